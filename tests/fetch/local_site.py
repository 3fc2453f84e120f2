"""A small web site served on 127.0.0.1 from a thread, for tests that fetch real pages.

`serve_local_site()` starts it on a free port and yields a `LocalSite` that knows
its URLs and counts the requests each path received. The pages cover what a
fetcher meets in the wild: an article buried in boilerplate, a PDF, plain text,
redirects (one of them to a private address), a slow page, huge pages, a 404 and
an image. Tests import the constants below to assert on the content.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from tests.support.loopback import Loopback, LoopbackHandler, LoopbackServer, serve_in_thread
from tests.support.pdf import make_pdf

ARTICLE_TITLE = "The Migration of Arctic Terns"
ARTICLE_SENTENCES = (
    "Arctic terns fly from their Arctic breeding grounds to the Antarctic and back every year.",
    "A tern tracked with a geolocator covered about 90,000 kilometres in a single annual round trip.",
    "Because they see two summers each year, Arctic terns experience more daylight than any other animal.",
)
BOILERPLATE = (
    "Subscribe to our newsletter",
    "Copyright 2024 Bird Facts Media",
    "trackVisitor",
    "Home | News | Shop | Contact",
)
PDF_TITLE = "Tern Survey Report"
PDF_SENTENCE = "The tern colony on Farne Island counted 1,250 breeding pairs in 2023."
TEXT_BODY = "Field notes.\n\nThe terns arrived on the 14th of May, two days earlier than last year.\n"
SLOW_SECONDS = 5.0
HUGE_BYTES = 2_000_000


def _article_html() -> bytes:
    paragraphs = "\n".join(f"<p>{sentence}</p>" for sentence in ARTICLE_SENTENCES)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{ARTICLE_TITLE}</title>
  <script>function trackVisitor() {{ return document.cookie; }} trackVisitor();</script>
  <style>body {{ font-family: sans-serif; }}</style>
</head>
<body>
  <header><nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/shop">Shop</a> |
    <a href="/contact">Contact</a></nav><p>{BOILERPLATE[3]}</p></header>
  <aside class="sidebar"><h3>Newsletter</h3><p>{BOILERPLATE[0]} for weekly bird facts!</p></aside>
  <main>
    <article>
      <h1>{ARTICLE_TITLE}</h1>
      {paragraphs}
    </article>
  </main>
  <footer><p>{BOILERPLATE[1]}. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
  <script src="/analytics.js"></script>
</body>
</html>
""".encode()


# The start of a PNG file: the fetcher must refuse it by its type, without reading on.
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(64)


class LocalSite(Loopback):
    """A running test site: its URLs and the requests it received, path by path."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._hits: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def hits(self, path: str) -> int:
        """How many requests `path` received so far."""
        with self._lock:
            return self._hits[path]

    def record_hit(self, path: str) -> None:
        with self._lock:
            self._hits[path] += 1


Route = Callable[["_Handler"], None]


class _Handler(LoopbackHandler):
    server: LoopbackServer[LocalSite]

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.state.record_hit(path)
        route = ROUTES.get(path)
        if route is None:
            self.send_body(404, "text/html; charset=utf-8", b"<html><body>Not found</body></html>")
        else:
            route(self)


def _slow(handler: _Handler) -> None:
    # Wait on the stop event rather than sleep, so that stopping the site is never held up.
    handler.server.state.stopping.wait(SLOW_SECONDS)
    handler.send_body(200, "text/html", b"<html><body><p>Finally.</p></body></html>")


def _huge_streamed(handler: _Handler) -> None:
    # No Content-Length: the fetcher must count the bytes as they arrive.
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    chunk = b"tern " * 20_000
    for _ in range(HUGE_BYTES // len(chunk)):
        handler.wfile.write(chunk)


ROUTES: dict[str, Route] = {
    "/article": lambda h: h.send_body(200, "text/html; charset=utf-8", _article_html()),
    "/report.pdf": lambda h: h.send_body(200, "application/pdf", make_pdf(PDF_SENTENCE, PDF_TITLE)),
    "/notes.txt": lambda h: h.send_body(200, "text/plain; charset=utf-8", TEXT_BODY.encode()),
    "/image.png": lambda h: h.send_body(200, "image/png", PNG_BYTES),
    "/redirect": lambda h: h.redirect("/article"),
    "/redirect-loop": lambda h: h.redirect("/redirect-loop"),
    # `localhost` is this very site, but by a name that is not on any allow list.
    "/redirect-private": lambda h: h.redirect(f"http://localhost:{h.server.state.port}/article"),
    "/redirect-metadata": lambda h: h.redirect("http://169.254.169.254/latest/meta-data/"),
    "/redirect-file": lambda h: h.redirect("file:///etc/passwd"),
    "/slow": _slow,
    "/huge": lambda h: h.send_body(200, "text/html", b"<p>" + b"x" * HUGE_BYTES + b"</p>"),
    "/huge-streamed": _huge_streamed,
}


def serve_local_site() -> contextlib.AbstractContextManager[LocalSite]:
    """Serve the test site on 127.0.0.1 (a free port) until the block ends."""
    return serve_in_thread(_Handler, LocalSite)
