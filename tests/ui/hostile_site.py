"""A page on 127.0.0.1 whose title and text carry markup that must never run in the playground.

Its text reaches the answer, the excerpts and the source title; the playground must show
it as text. Every payload sets `window.__pwned`, so a test can tell whether one ran.
"""

from __future__ import annotations

import html

from tests.support.loopback import Loopback, LoopbackHandler

SCRIPT = "<script>window.__pwned = 'script'</script>"
IMG = "<img src=x onerror=\"window.__pwned = 'img'\">"
TITLE = f"Zorblax beacon {SCRIPT} {IMG}"
PATH = "/zorblax-beacon.html"
QUESTION = "How often is the Zorblax beacon calibrated?"
SENTENCES = (
    f"The Zorblax beacon is calibrated every spring by the keepers of Quillon Bay, who mark it with {IMG} and {SCRIPT}.",
    "The Zorblax beacon stands on the northern cliff of Quillon Bay and was first lit in 1887.",
    "Its lamp is visible from twenty nautical miles away on a clear night.",
    "The keepers record each calibration of the Zorblax beacon in a logbook kept at the harbour office.",
)


def page_html() -> bytes:
    # Escaped here, so that the page's *text* holds the markup: that is what the indexer stores.
    paragraphs = "".join(f"<p>{html.escape(s)}</p>" for s in SENTENCES)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(TITLE)}</title></head>"
        f"<body><article><h1>{html.escape(TITLE)}</h1>{paragraphs}</article></body></html>"
    ).encode()


class HostileHandler(LoopbackHandler):
    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        if self.path == PATH:
            self.send_body(200, "text/html; charset=utf-8", page_html())
        else:
            self.send_body(404, "text/plain", b"not found")


def hostile_site(port: int) -> Loopback:
    return Loopback(port)
