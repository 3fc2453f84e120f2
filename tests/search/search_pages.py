"""Test pages for the search tests: a tiny web site on 127.0.0.1, an article in boilerplate, a PDF."""

from __future__ import annotations

import dataclasses
import http.server


@dataclasses.dataclass
class Route:
    body: bytes
    content_type: str
    status: int = 200
    location: str | None = None


class Site:
    """Pages served on 127.0.0.1 from a thread; tests add routes before fetching them."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("content-type", route.content_type)
                if route.location is not None:
                    self.send_header("location", route.location)
                self.send_header("content-length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8") -> str:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, content_type)
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        self.routes[path] = Route(b"", "", status=301, location=to)
        return self.url(path)


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


def make_pdf(text: str, title: str) -> bytes:
    """A minimal valid one-page PDF that shows `text` and names `title` in its info dictionary."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< /Title ({title}) >>".encode("latin-1"),
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    pdf += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(pdf)
