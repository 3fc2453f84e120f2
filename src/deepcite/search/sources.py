"""What `deepcite index SOURCE...` can read, and how each kind of source becomes documents.

A source is a file (.html .htm .md .txt .pdf), a folder (searched recursively
for those), an http(s) URL (an XML sitemap expands to the pages it lists), or a
`.jsonl` / `.jsonl.gz` file of `{"url", "title", "text"}` records.

Indexing happens in two steps: `plan_sources` turns the sources into targets
(so the total is known before the work starts and a progress bar can show it),
then `load_target` turns each target into documents. Neither raises for a bad
source: it reports a `SourceFailure` and goes on with the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, ClassVar
from urllib.parse import urlsplit
from urllib.request import url2pathname
from xml.etree import ElementTree

import httpx

from deepcite.errors import DeepciteError, FetchError
from deepcite.fetch.extract import extract_page, parse_content_type

# Content type of each file suffix we index; also a guess for URLs served without one.
FILE_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
}
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
MAX_BODY_BYTES = 20_000_000
MAX_SITEMAP_DEPTH = 3
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_GZIP_MAGIC = b"\x1f\x8b"
_JSONL_BATCH = 256


@dataclasses.dataclass(frozen=True)
class SourceDocument:
    url: str
    title: str
    text: str
    source: str


@dataclasses.dataclass(frozen=True)
class SourceFailure:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclasses.dataclass(frozen=True)
class FileTarget:
    path: Path
    source: str
    count: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True)
class UrlTarget:
    url: str
    source: str
    count: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True)
class FetchedTarget:
    """A URL whose body was already read while planning (to see whether it was a sitemap)."""

    url: str
    body: bytes
    content_type: str
    source: str
    count: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True)
class JsonlTarget:
    path: Path
    source: str
    count: int


Target = FileTarget | UrlTarget | FetchedTarget | JsonlTarget


@dataclasses.dataclass
class SourcePlan:
    targets: list[Target] = dataclasses.field(default_factory=list)
    failures: list[SourceFailure] = dataclasses.field(default_factory=list)

    @property
    def total(self) -> int:
        """How many documents (or per-document failures) loading the targets will give."""
        return sum(target.count for target in self.targets)


async def plan_sources(sources: list[str], http: httpx.AsyncClient) -> SourcePlan:
    plan = SourcePlan()
    seen_urls: set[str] = set()
    for source in sources:
        if urlsplit(source).scheme in {"http", "https"}:
            await _plan_url(plan, source, source, http, seen_urls, depth=0)
        else:
            await asyncio.to_thread(_plan_path, plan, source)
    return plan


async def load_target(target: Target, http: httpx.AsyncClient) -> AsyncIterator[SourceDocument | SourceFailure]:
    """The documents of one target, or a failure in place of each one that could not be read."""
    if isinstance(target, JsonlTarget):
        async for item in _load_jsonl(target):
            yield item
        return
    where = str(target.path) if isinstance(target, FileTarget) else target.url
    try:
        yield await _load_page(target, http)
    except DeepciteError as exc:
        yield SourceFailure(where, exc.message)
    except Exception as exc:  # noqa: BLE001 - a parser choking on one page must not stop the others
        yield SourceFailure(where, f"{type(exc).__name__}: {exc}")


async def fetch_url(url: str, http: httpx.AsyncClient) -> tuple[str, bytes, str]:
    """GET a URL, following redirects: (final URL, body, content type)."""
    try:
        async with http.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise FetchError(f"larger than {MAX_BODY_BYTES:,} bytes")
            content_type = response.headers.get("content-type", "")
            return str(response.url), bytes(body), content_type
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc


def file_url(path: Path) -> str:
    """The URL a local file is indexed (and cited) under."""
    return path.resolve().as_uri()


async def _plan_url(plan: SourcePlan, url: str, source: str, http: httpx.AsyncClient, seen: set[str], *, depth: int) -> None:
    if url in seen:
        return
    seen.add(url)
    try:
        final_url, body, content_type = await fetch_url(url, http)
        sitemap = _sitemap_locations(final_url, body, content_type)
    except FetchError as exc:
        plan.failures.append(SourceFailure(url, exc.message))
        return
    if sitemap is None:
        plan.targets.append(FetchedTarget(final_url, body, content_type, source))
        return
    kind, locations = sitemap
    for location in locations:
        if kind == "urlset" and location not in seen:
            seen.add(location)
            plan.targets.append(UrlTarget(location, source))
        elif kind == "sitemapindex" and depth < MAX_SITEMAP_DEPTH:
            await _plan_url(plan, location, source, http, seen, depth=depth + 1)
        elif kind == "sitemapindex":
            plan.failures.append(SourceFailure(location, f"sitemaps nested deeper than {MAX_SITEMAP_DEPTH}"))


def _sitemap_locations(url: str, body: bytes, content_type: str) -> tuple[str, list[str]] | None:
    """("urlset" | "sitemapindex", the <loc> URLs) when the body is an XML sitemap, else None."""
    media_type, _ = parse_content_type(content_type)
    path = urlsplit(url).path.lower()
    looks_xml = media_type in _XML_TYPES or path.endswith((".xml", ".xml.gz"))
    if not looks_xml and not body.startswith(_GZIP_MAGIC):
        return None
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    kind = root.tag.rpartition("}")[2]
    if kind not in {"urlset", "sitemapindex"}:
        return None
    locations = [
        element.text.strip()
        for element in root.iter()
        if element.tag.rpartition("}")[2] == "loc" and element.text and element.text.strip()
    ]
    return kind, [loc for loc in locations if urlsplit(loc).scheme in {"http", "https"}]


def _gunzip(body: bytes) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_BODY_BYTES)
    except zlib.error as exc:
        raise FetchError(f"bad gzip data: {exc}") from exc
    if decompressor.unconsumed_tail:
        raise FetchError(f"larger than {MAX_BODY_BYTES:,} bytes once decompressed")
    return data


def _plan_path(plan: SourcePlan, source: str) -> None:
    path = Path(url2pathname(urlsplit(source).path) if source.startswith("file://") else source).expanduser()
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in FILE_TYPES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        plan.targets.extend(FileTarget(p, source) for p in files)
    elif not path.is_file():
        plan.failures.append(SourceFailure(source, "no such file or folder"))
    elif path.name.lower().endswith(JSONL_SUFFIXES):
        try:
            plan.targets.append(JsonlTarget(path, source, _count_lines(path)))
        except (OSError, EOFError, zlib.error) as exc:
            plan.failures.append(SourceFailure(source, f"cannot read: {exc}"))
    elif path.suffix.lower() in FILE_TYPES:
        plan.targets.append(FileTarget(path, source))
    else:
        supported = ", ".join([*FILE_TYPES, *JSONL_SUFFIXES])
        plan.failures.append(SourceFailure(source, f"unsupported file type (supported: {supported})"))


async def _load_page(target: FileTarget | UrlTarget | FetchedTarget, http: httpx.AsyncClient) -> SourceDocument:
    if isinstance(target, FileTarget):
        url = file_url(target.path)
        try:
            body = await asyncio.to_thread(target.path.read_bytes)
        except OSError as exc:
            raise FetchError(f"cannot read: {exc}") from exc
        content_type = FILE_TYPES[target.path.suffix.lower()]
    elif isinstance(target, UrlTarget):
        url, body, content_type = await fetch_url(target.url, http)
    else:
        url, body, content_type = target.url, target.body, target.content_type
    media_type, _ = parse_content_type(content_type)
    if not content_type or media_type == "application/octet-stream":
        content_type = FILE_TYPES.get(Path(urlsplit(url).path).suffix.lower(), content_type)
    page = await asyncio.to_thread(extract_page, body, content_type, url)
    if not page.text.strip():
        raise FetchError("no readable text")
    return SourceDocument(url=url, title=page.title, text=page.text, source=target.source)


def _open_jsonl(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _count_lines(path: Path) -> int:
    with _open_jsonl(path) as lines:
        return sum(1 for line in lines if line.strip())


async def _load_jsonl(target: JsonlTarget) -> AsyncIterator[SourceDocument | SourceFailure]:
    try:
        handle = await asyncio.to_thread(_open_jsonl, target.path)
    except OSError as exc:
        yield SourceFailure(str(target.path), f"cannot read: {exc}")
        return
    try:
        lines = _numbered_lines(handle)
        while batch := await asyncio.to_thread(_next_batch, lines):
            for number, line in batch:
                yield _jsonl_record(target, number, line)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        yield SourceFailure(str(target.path), f"cannot read: {exc}")
    finally:
        handle.close()


def _numbered_lines(handle: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        if line.strip():
            yield number, line


def _next_batch(lines: Iterator[tuple[int, str]]) -> list[tuple[int, str]]:
    return [item for _, item in zip(range(_JSONL_BATCH), lines, strict=False)]


def _jsonl_record(target: JsonlTarget, number: int, line: str) -> SourceDocument | SourceFailure:
    where = f"{target.path}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return SourceFailure(where, f"invalid JSON: {exc}")
    if not isinstance(record, dict):
        return SourceFailure(where, 'expected an object {"url", "title", "text"}')
    url, title, text = record.get("url"), record.get("title") or "", record.get("text")
    if not isinstance(url, str) or not url.strip():
        return SourceFailure(where, '"url" must be a non-empty string')
    if not isinstance(text, str) or not text.strip():
        return SourceFailure(where, '"text" must be a non-empty string')
    if not isinstance(title, str):
        return SourceFailure(where, '"title" must be a string')
    return SourceDocument(url=url.strip(), title=title.strip() or url.strip(), text=text, source=target.source)
