"""Turn a fetched body (HTML, PDF, Markdown, plain text) into a title and clean text.

`extract_page` is synchronous and CPU-bound (trafilatura, pypdf): call it with
`asyncio.to_thread`. The text it returns is what gets indexed and quoted, so
paragraphs are always separated by one blank line, whatever the format.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import re
from email.message import Message
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import pypdf
import pypdf.errors
import trafilatura

from deepcite.errors import FetchError

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})
SUPPORTED_TYPES = HTML_TYPES | PDF_TYPES | TEXT_TYPES

_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")


@dataclasses.dataclass(frozen=True)
class ExtractedPage:
    title: str
    text: str


def extract_page(body: bytes, content_type: str, url: str) -> ExtractedPage:
    """Extract the readable content of a page; raise `FetchError` for unsupported types."""
    media_type, charset = parse_content_type(content_type)
    if media_type in HTML_TYPES:
        return _extract_html(body, charset, url)
    if media_type in PDF_TYPES:
        return _extract_pdf(body, url)
    if media_type in TEXT_TYPES:
        return _extract_text(body, charset, url, markdown=media_type != "text/plain")
    raise FetchError(f"unsupported content type {media_type or 'unknown'!r} at {url}")


def parse_content_type(content_type: str) -> tuple[str, str | None]:
    """Split a Content-Type header into its lower-cased media type and charset (if any)."""
    header = Message()
    header["content-type"] = content_type or "application/octet-stream"
    charset = header.get_content_charset()
    if charset is not None:
        try:
            charset = codecs.lookup(charset).name
        except LookupError:
            charset = None
    return header.get_content_type(), charset


def _decode(body: bytes, charset: str | None) -> str:
    if charset is None:
        charset = "utf-8-sig" if body.startswith(codecs.BOM_UTF8) else "utf-8"
    return body.decode(charset, errors="replace")


def _extract_html(body: bytes, charset: str | None, url: str) -> ExtractedPage:
    # Without a declared charset, trafilatura sniffs the bytes (meta tags, BOM) itself.
    markup: str | bytes = _decode(body, charset) if charset else body
    document = trafilatura.bare_extraction(markup, url=url, with_metadata=True, include_comments=False, include_tables=True)
    text = _normalise_lines(getattr(document, "text", None) or "")
    title = (getattr(document, "title", None) or "").strip()
    if not text or not title:
        fallback = _PlainHTML.parse(_decode(body, charset))
        text = text or fallback.text
        title = title or fallback.title
    return ExtractedPage(title=title or _title_from_url(url), text=text)


def _extract_pdf(body: bytes, url: str) -> ExtractedPage:
    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [_tidy_pdf_page(page.extract_text() or "") for page in reader.pages]
        metadata_title = reader.metadata.title if reader.metadata is not None else None
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"cannot read PDF at {url}: {exc}") from exc
    text = "\n\n".join(page for page in pages if page)
    title = str(metadata_title).strip() if metadata_title else ""
    return ExtractedPage(title=title or _title_from_url(url), text=text)


def _extract_text(body: bytes, charset: str | None, url: str, *, markdown: bool) -> ExtractedPage:
    text = _decode(body, charset).replace("\r\n", "\n").replace("\r", "\n").strip()
    heading = _MARKDOWN_HEADING.search(text) if markdown else None
    title = heading.group(1).strip() if heading else ""
    return ExtractedPage(title=title or _title_from_url(url), text=text)


def _normalise_lines(text: str) -> str:
    """trafilatura puts one paragraph per line: separate them by blank lines instead."""
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())


def _tidy_pdf_page(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _title_from_url(url: str) -> str:
    parts = urlsplit(url)
    name = PurePosixPath(unquote(parts.path)).stem
    return name.replace("_", " ").replace("-", " ").strip() or parts.netloc or url


class _PlainHTML(HTMLParser):
    """Last resort when trafilatura finds no main content: all visible text, block by block."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template", "svg"})
    _BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "pre",
            "table",
            "ul",
            "ol",
            "dd",
            "dt",
            "main",
            "nav",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._skip_depth = 0
        self._in_title = False
        self._title: list[str] = []
        self._blocks: list[list[str]] = [[]]

    @classmethod
    def parse(cls, markup: str) -> ExtractedPage:
        parser = cls()
        parser.feed(markup)
        parser.close()
        blocks = (" ".join("".join(block).split()) for block in parser._blocks)
        return ExtractedPage(
            title=" ".join("".join(parser._title).split()),
            text="\n\n".join(block for block in blocks if block),
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIPPED:
            self._skip_depth += 1
        if tag in self._BLOCKS:
            self._blocks.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIPPED and self._skip_depth:
            self._skip_depth -= 1
        if tag in self._BLOCKS:
            self._blocks.append([])

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif not self._skip_depth:
            self._blocks[-1].append(data)
