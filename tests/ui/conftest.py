"""Fixtures of the browser tests: one real server, one chromium per module, watched pages.

The server's index holds the bundled sample corpus and a hostile page served on
127.0.0.1 (see `hostile_site.py`), both indexed with `deepcite index` as a user would.
Chromium is Debian's (`make system-packages`), driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from importlib import resources

import pytest
from bench.harness import RunningServer, run_cli
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, ViewportSize, sync_playwright
from tests.e2e.e2e_server import launch
from tests.support.loopback import Loopback, serve_in_thread
from tests.ui.hostile_site import PATH, HostileHandler, hostile_site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def hostile_url() -> Iterator[str]:
    site: Loopback
    with serve_in_thread(HostileHandler, hostile_site) as site:
        yield site.url(PATH)


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, hostile_url: str) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("ui-home")
    corpus = resources.files("deepcite").joinpath("data/sample_corpus.jsonl.gz")
    with resources.as_file(corpus) as path:
        indexed = run_cli(home, "index", str(path), hostile_url)
    assert "failed 0" in indexed.stdout, indexed.stdout + indexed.stderr
    running = launch(home)  # the e2e tests' launcher, so the same test settings
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-packages` (apt install chromium, as root)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
    yield chromium
    chromium.close()


@dataclasses.dataclass
class WatchedPage:
    """A page and what went wrong on it: console errors, uncaught exceptions, dialogs opened."""

    page: Page
    problems: list[str] = dataclasses.field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")


def open_page(browser: Browser, viewport: ViewportSize, *, api_key: str | None = None) -> WatchedPage:
    context = browser.new_context(viewport=viewport)
    if api_key is not None:
        # What a returning user has: the key saved in local storage by an earlier visit.
        context.add_init_script(f"localStorage.setItem('deepcite-key', {api_key!r})")
    page = context.new_page()
    page.set_default_timeout(60_000)
    watched = WatchedPage(page)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (watched.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return watched


@pytest.fixture
def desktop(browser: Browser) -> Iterator[WatchedPage]:
    watched = open_page(browser, DESKTOP)
    yield watched
    watched.page.context.close()
