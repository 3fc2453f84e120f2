"""Test pages for the search tests: a tiny web site on 127.0.0.1 that tests fill, an article in boilerplate."""

from __future__ import annotations

import contextlib
import dataclasses

from tests.support.loopback import Loopback, LoopbackHandler, LoopbackServer, serve_in_thread


@dataclasses.dataclass
class Route:
    body: bytes
    content_type: str
    status: int = 200
    location: str | None = None


class Site(Loopback):
    """Pages served on 127.0.0.1 from a thread; tests add routes before fetching them."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.routes: dict[str, Route] = {}

    def add(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8") -> str:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, content_type)
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        self.routes[path] = Route(b"", "", status=301, location=to)
        return self.url(path)


class _Handler(LoopbackHandler):
    server: LoopbackServer[Site]

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        route = self.server.state.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        headers = [("Location", route.location)] if route.location is not None else []
        self.send_body(route.status, route.content_type, route.body, headers=headers)


def serve_site() -> contextlib.AbstractContextManager[Site]:
    """Serve an empty `Site` on a free 127.0.0.1 port until the block ends."""
    return serve_in_thread(_Handler, Site)


def article_html(title: str, paragraphs: list[str]) -> str:
    """A page with its article buried in the boilerplate of a real site."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} | Example News</title>
<script>function trackVisitor() {{ return 1; }}</script><style>p {{ color: black; }}</style></head>
<body>
<header><nav><a href="/">Home</a> | <a href="/shop">Shop</a> | <a href="/contact">Contact</a></nav></header>
<aside><p>Subscribe to our newsletter for weekly updates!</p></aside>
<main><article><h1>{title}</h1>
{body}
</article></main>
<footer><p>Copyright 2024 Example News Media. All rights reserved.</p></footer>
</body></html>
"""
