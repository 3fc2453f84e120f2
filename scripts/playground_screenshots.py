"""Screenshots of the playground for the README: `python scripts/playground_screenshots.py`.

Starts a real server on a temporary home (the bundled sample corpus), asks one question
in Debian's chromium at desktop and at phone width, points at the first cited sentence
(so its supporting excerpt is lit) and writes `docs/playground-desktop.png` and
`docs/playground-phone.png`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import API_KEY, start_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_FLAGS, DESKTOP, PHONE  # noqa: E402

QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
MODEL = "lite"


def main() -> None:
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as home, sync_playwright() as driver:
        server = start_server(Path(home))
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                context = browser.new_context(viewport=viewport, device_scale_factor=1)
                context.add_init_script(f"localStorage.setItem('deepcite-key', {API_KEY!r})")
                page = context.new_page()
                page.goto(f"{server.base_url}/?{urlencode({'q': QUESTION, 'model': MODEL})}")
                page.locator("#meta").filter(has_text="total").wait_for(timeout=120_000)
                page.locator("#share").evaluate("node => node.open = true")
                page.locator("#answer .sentence.supported").first.hover()
                path = docs / f"playground-{name}.png"
                page.screenshot(path=str(path), full_page=name == "phone")
                print(f"wrote {path.relative_to(ROOT)}")
                context.close()
        finally:
            browser.close()
            server.stop()


if __name__ == "__main__":
    main()
