"""The playground in a real browser against a real server: ask, watch it stream, follow the evidence.

Assertions are on structure and behaviour (text streams in, markers lead to sources,
sentences light up their excerpts), never on the answer's wording.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

from bench.harness import API_KEY, RunningServer
from playwright.sync_api import Browser, Page, expect
from tests.ui.conftest import PHONE, WatchedPage, open_page
from tests.ui.hostile_site import QUESTION as HOSTILE_QUESTION
from tests.ui.hostile_site import SCRIPT, TITLE

QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
SUPER_BOWL = "https://en.wikipedia.org/wiki/Super_Bowl_50"

# Records, before the final render replaces it, each text the answer showed while it streamed.
RECORD_STREAMING = """
new MutationObserver(() => {
  const answer = document.getElementById("answer");
  if (answer && answer.classList.contains("streaming") && answer.textContent) {
    (window.__streamed = window.__streamed || []).push(answer.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def ask(page: Page, server: RunningServer, question: str, model: str = "speed") -> None:
    page.goto(server.base_url + "/")
    page.fill("#key", API_KEY)
    page.fill("#question", question)
    page.select_option("#model", model)
    page.click("#go")


def wait_for_answer(page: Page) -> None:
    expect(page.locator("#meta")).to_contain_text("total", timeout=120_000)
    expect(page.locator("#error")).to_have_text("")


def test_answer_streams_with_markers_that_lead_to_their_sources(desktop: WatchedPage, ui_server: RunningServer) -> None:
    page = desktop.page
    page.add_init_script(RECORD_STREAMING)
    ask(page, ui_server, QUESTION)
    wait_for_answer(page)

    assert page.evaluate("(window.__streamed || []).length") >= 1, "the answer showed text before it finished"
    assert page.locator("#progressLog li").count() >= 1, "research steps were shown while it worked"
    assert re.search(r"first token [\d.]+ s · total [\d.]+ s", page.locator("#meta").inner_text())

    sources = page.locator("#sources .source")
    assert sources.count() >= 1
    assert SUPER_BOWL in [sources.nth(i).get_attribute("data-url") for i in range(sources.count())]
    for i in range(sources.count()):
        card = sources.nth(i)
        assert card.locator(".source-head a").inner_text().strip(), "each source shows its title as a link"
        assert card.locator(".domain").inner_text().strip()
        assert card.locator("blockquote.excerpt").count() >= 1, "each source shows its verbatim excerpts"
    field = page.locator("#fields .field").first
    assert field.locator(".conf").inner_text() in {"low", "medium", "high"}
    assert field.locator(".reasoning").inner_text().strip()

    markers = page.locator("#answer a.marker")
    assert markers.count() >= 1, "[n] markers are links"
    marker = markers.first
    target = marker.get_attribute("href")
    assert target and target.startswith("#source-")
    assert re.fullmatch(r"\[\d+\]", marker.inner_text())
    page.evaluate("window.scrollTo(0, 0)")
    marker.click()
    card = page.locator(target)
    expect(card).to_have_class(re.compile(r"\bselected\b"))
    expect(card).to_be_in_viewport()
    assert card.get_attribute("data-url") == marker.get_attribute("data-url")

    # Hovering (or focusing) a cited sentence lights up excerpts of the sources it cites, only those.
    sentence = page.locator("#answer .sentence.supported").first
    cited = {sentence.locator("a.marker").nth(i).get_attribute("href")
             for i in range(sentence.locator("a.marker").count())}
    sentence.hover()
    lit = page.locator("blockquote.excerpt.support")
    assert lit.count() >= 1
    lit_in = {"#" + (lit.nth(i).evaluate("node => node.closest('.source').id")) for i in range(lit.count())}
    assert lit_in <= cited
    page.mouse.move(0, 0)
    expect(lit).to_have_count(0)
    sentence.focus()
    assert page.locator("blockquote.excerpt.support").count() >= 1

    # The key stays in this browser: saved locally, absent from the share link and snippets.
    assert page.evaluate("localStorage.getItem('deepcite-key')") == API_KEY
    link = page.locator("#shareLink").input_value()
    assert parse_qs(urlsplit(link).query) == {"q": [QUESTION], "model": ["speed"]}
    for snippet in ("#curlSnippet", "#pythonSnippet"):
        text = page.locator(snippet).text_content() or ""
        assert API_KEY not in text and "DEEPCITE_API_KEY" in text and json.dumps(QUESTION) in text
    assert desktop.problems == []


def test_the_copied_snippets_run(desktop: WatchedPage, ui_server: RunningServer) -> None:
    page = desktop.page
    page.goto(ui_server.base_url + "/")
    page.fill("#question", QUESTION)
    page.select_option("#model", "speed")
    env = {**os.environ, "DEEPCITE_API_KEY": API_KEY}
    python = page.locator("#pythonSnippet").text_content() or ""
    ran = subprocess.run([sys.executable, "-c", python], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert re.search(r"\[\d+\]", ran.stdout) and SUPER_BOWL in ran.stdout, "the answer streamed, then its basis"
    if shutil.which("curl"):
        curl = page.locator("#curlSnippet").text_content() or ""
        ran = subprocess.run(["bash", "-c", curl], env=env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.rstrip().endswith("data: [DONE]") and '"basis"' in ran.stdout
    assert desktop.problems == []


def test_json_answer_shows_each_field_beside_its_basis(desktop: WatchedPage, ui_server: RunningServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "team": {"type": "string", "description": "The team"},
            "facts": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "required": ["team", "facts"],
        "additionalProperties": False,
    }
    page = desktop.page
    page.goto(ui_server.base_url + "/")
    page.check("#useSchema")
    expect(page.locator("#schema")).to_be_visible()
    assert page.locator("#schemaExample option").count() >= 2, "the editor offers examples"
    page.fill("#schema", "{ not json")
    expect(page.locator("#schemaError")).to_contain_text("not valid JSON")
    page.fill("#schema", json.dumps(schema))
    expect(page.locator("#schemaError")).to_have_text("")
    page.fill("#key", API_KEY)
    page.fill("#question", QUESTION)
    page.select_option("#model", "speed")
    page.click("#go")
    wait_for_answer(page)

    rows = page.locator("#json .json-row")
    fields = [rows.nth(i).get_attribute("data-field") for i in range(rows.count())]
    assert {f for f in fields if f and "." not in f} == {"team", "facts"}, "one row per top-level field"
    elements = [f for f in fields if f and f.startswith("facts.")]
    assert elements == [f"facts.{i}" for i in range(len(elements))], "array elements sit beside field.N"
    for i in range(rows.count()):
        row = rows.nth(i)
        assert row.locator("pre").inner_text().strip()
        assert row.locator(".json-basis .conf").inner_text() in {"low", "medium", "high"}
    team = page.locator('#json .json-row[data-field="team"] pre').inner_text()
    assert team.startswith('"team": "'), "the value is pretty-printed JSON"
    link = rows.first.locator(".json-basis a.cite-link").first
    link.click()
    expect(page.locator(link.get_attribute("href") or "")).to_have_class(re.compile(r"\bselected\b"))
    assert desktop.problems == []


def test_markup_in_a_page_title_or_text_never_runs(desktop: WatchedPage, ui_server: RunningServer) -> None:
    page = desktop.page
    ask(page, ui_server, HOSTILE_QUESTION)
    wait_for_answer(page)
    sources = page.locator("#sources")
    expect(sources).to_contain_text(TITLE)
    assert SCRIPT in (page.locator("#sources").text_content() or ""), "the markup is shown as text"
    shown = (page.locator("#answer").text_content() or "") + (sources.text_content() or "")
    assert "<img" in shown
    for area in ("#answer", "#sources", "#fields"):
        assert page.locator(f"{area} img, {area} script, {area} [onerror]").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.title() == "deepcite playground"
    assert desktop.problems == []


def test_a_shared_link_asks_at_once_on_a_phone(browser: Browser, ui_server: RunningServer) -> None:
    watched = open_page(browser, PHONE, api_key=API_KEY)
    page = watched.page
    try:
        page.goto(f"{ui_server.base_url}/?q=Where+was+Super+Bowl+50+played%3F&model=speed")
        wait_for_answer(page)
        assert page.locator("#model").input_value() == "speed"
        assert page.locator("#answer a.marker").count() >= 1
        assert page.locator("#sources .source").count() >= 1
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
        assert page.url.endswith("model=speed"), "the key never goes into the URL"
        assert watched.problems == []
    finally:
        page.context.close()


def test_a_refused_key_is_explained(desktop: WatchedPage, ui_server: RunningServer) -> None:
    page = desktop.page
    page.goto(ui_server.base_url + "/")
    page.fill("#key", "not-the-key")
    page.fill("#question", QUESTION)
    page.click("#go")
    expect(page.locator("#error")).to_contain_text("Incorrect API key")
    # The browser reports the 401 response itself in the console; nothing else may appear.
    assert [p for p in desktop.problems if "401" not in p] == []
