"""The SQuAD articles served as a small local web: one HTML page per article, and a sitemap.

Each article is `/wiki/<Title>` (SQuAD's title, underscores kept) wrapped in the
boilerplate a real site has (navigation, footer), so indexing it exercises the
same fetch and extraction path as a crawl of the open web. `/sitemap.xml` lists
every article, so `deepcite index http://127.0.0.1:PORT/sitemap.xml` indexes them all.
"""

from __future__ import annotations

import dataclasses
import html
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape as xml_escape

from bench.harness import SQUAD

WIKI = "/wiki/"
SITE_NAME = "SQuAD Wiki"
NAV_LINKS = 6  # articles linked from every page's navigation bar


@dataclasses.dataclass(frozen=True)
class SquadArticle:
    title: str  # SQuAD's form, with underscores: "Fresno,_California"
    paragraphs: list[str]

    @property
    def path(self) -> str:
        return WIKI + quote(self.title, safe="")

    @property
    def display_title(self) -> str:
        return self.title.replace("_", " ")


def squad_articles(squad: Path = SQUAD) -> list[SquadArticle]:
    data = json.loads(squad.read_text())["data"]
    return [SquadArticle(a["title"], [p["context"] for p in a["paragraphs"]]) for a in data]


def display_title_of(url: str) -> str | None:
    """The article title ("Fresno, California") a `/wiki/` URL names, or None for any other URL."""
    path = unquote(urlsplit(url).path)
    return path[len(WIKI):].replace("_", " ") if path.startswith(WIKI) else None


def render_article(article: SquadArticle, nav: list[SquadArticle]) -> str:
    links = "".join(f'<li><a href="{a.path}">{html.escape(a.display_title)}</a></li>' for a in nav)
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    name = html.escape(article.display_title)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{name} - {SITE_NAME}</title></head>
<body>
<header><nav><a href="/">{SITE_NAME}</a><ul>{links}</ul><form action="/search"><input name="q"></form></nav></header>
<main><article>
<h1>{name}</h1>
{body}
</article></main>
<footer><p>Text from the SQuAD v1.1 dataset, CC BY-SA 4.0.</p>
<p><a href="/about">About</a> · <a href="/privacy">Privacy</a> · Served locally for the deepcite benchmarks.</p></footer>
</body>
</html>
"""


def render_home(articles: list[SquadArticle]) -> str:
    items = "".join(f'<li><a href="{a.path}">{html.escape(a.display_title)}</a></li>' for a in articles)
    return (f"<!doctype html><html><head><title>{SITE_NAME}</title></head>"
            f"<body><h1>{SITE_NAME}</h1><ul>{items}</ul></body></html>")


def render_sitemap(base_url: str, articles: list[SquadArticle]) -> str:
    urls = "".join(f"<url><loc>{xml_escape(base_url + a.path)}</loc></url>" for a in articles)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


@dataclasses.dataclass(frozen=True)
class SquadSite:
    base_url: str
    articles: list[SquadArticle]

    @property
    def sitemap_url(self) -> str:
        return self.base_url + "/sitemap.xml"

    def url_of(self, article: SquadArticle) -> str:
        return self.base_url + article.path


def _build_routes(base_url: str, articles: list[SquadArticle]) -> dict[str, tuple[bytes, str]]:
    """path -> (body, content type), rendered once: the pages never change while served."""
    nav = articles[:NAV_LINKS]
    routes = {a.path: (render_article(a, nav).encode(), "text/html; charset=utf-8") for a in articles}
    routes["/"] = (render_home(articles).encode(), "text/html; charset=utf-8")
    routes["/sitemap.xml"] = (render_sitemap(base_url, articles).encode(), "application/xml")
    return routes


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, str]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        # Clients may quote a title's characters differently (",", "(") : compare unquoted paths.
        found = self.routes.get(quote(unquote(urlsplit(self.path).path), safe="/"))
        if found is None:
            self.send_error(404)
            return
        body, content_type = found
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the indexer reads every page: one line each would drown the benchmark's output


@contextmanager
def serve_squad_site(articles: list[SquadArticle] | None = None) -> Iterator[SquadSite]:
    """Serve the articles on a free loopback port, in a background thread, for the `with` block."""
    articles = squad_articles() if articles is None else articles
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    routes = {quote(unquote(path), safe="/"): page for path, page in _build_routes(base_url, articles).items()}
    server.RequestHandlerClass = type("SquadHandler", (_Handler,), {"routes": routes})
    thread = threading.Thread(target=server.serve_forever, name="squad-site", daemon=True)
    thread.start()
    try:
        yield SquadSite(base_url, articles)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
