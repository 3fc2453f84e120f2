"""Parallel-style Search and Extract over deepcite's providers, local index and fetcher.

Search runs every query through every provider, keeps the pages the source
policy allows, ranks their passages against the objective and returns, per
page, its best passages cut to a character budget by whole sentences. Extract
reads the URLs it is given (from the local index when it holds them, else
through the SSRF-guarded fetcher) and returns their best passages for an
objective, their full text, or both. Every excerpt is a verbatim substring of
the text of its page (or, for a web hit whose page could not be read, of the
snippet its provider returned).

Nothing here knows HTTP: `deepcite.api.search_extract` turns requests into the
value objects below and the results into JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from typing import Protocol

from deepcite.errors import DeepciteError, InvalidRequestError
from deepcite.llm.encoder import TextEmbedder
from deepcite.research.evidence import verbatim
from deepcite.research.gather import PageReader
from deepcite.research.ranking import Candidate, best_sentences, rank_passages
from deepcite.research.text import split_sentences
from deepcite.search.base import SearchHit, SearchProvider
from deepcite.search.fanout import search_everywhere
from deepcite.search.local_index import IndexedPage
from deepcite.search.passages import split_passages
from deepcite.search.policy import SourcePolicy

DEFAULT_MAX_RESULTS = 10
DEFAULT_SEARCH_EXCERPT_CHARS = 1500
DEFAULT_EXTRACT_EXCERPT_CHARS = 5000
DEFAULT_EXCERPTS_PER_RESULT = 3
# Each query asks its providers for several passages per wanted page: the
# local index returns passages, and a page needs a few to compete.
HITS_PER_RESULT = 5
MIN_HITS_PER_QUERY = 20
# Ranking embeds every candidate; beyond this many the answer no longer improves.
MAX_CANDIDATES = 400
# Ranking packs passages into a token budget; here the budget is characters and
# the trimming is ours, so the budget must never bind.
UNBOUNDED_CHARS = 1 << 40
# A leftover budget smaller than this would only yield a scrap of a sentence.
MIN_EXCERPT_CHARS = 80
_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")


class IndexedPages(Protocol):
    """The local index, as extract reads it: whole pages by URL."""

    async def page(self, url: str) -> IndexedPage | None: ...


@dataclasses.dataclass(frozen=True)
class WebSearchRequest:
    objective: str | None = None
    search_queries: tuple[str, ...] = ()
    max_results: int = DEFAULT_MAX_RESULTS
    source_policy: SourcePolicy = SourcePolicy()
    max_chars_per_result: int = DEFAULT_SEARCH_EXCERPT_CHARS
    max_excerpts_per_result: int = DEFAULT_EXCERPTS_PER_RESULT

    @property
    def queries(self) -> list[str]:
        """The objective first, then the keyword queries; blanks and repeats dropped."""
        texts = [self.objective or "", *self.search_queries]
        return list(dict.fromkeys(t.strip() for t in texts if t.strip()))

    @property
    def ranking_query(self) -> str:
        """What passages are ranked against: the objective, else all the queries together."""
        if self.objective and self.objective.strip():
            return self.objective.strip()
        return " ".join(self.queries)


@dataclasses.dataclass(frozen=True)
class ExtractRequest:
    urls: tuple[str, ...]
    objective: str | None = None
    search_queries: tuple[str, ...] = ()
    excerpts: bool = True
    full_content: bool = False
    max_chars_per_result: int = DEFAULT_EXTRACT_EXCERPT_CHARS
    # None: the whole text.
    max_full_content_chars: int | None = None

    @property
    def ranking_query(self) -> str:
        return " ".join(t.strip() for t in [self.objective or "", *self.search_queries] if t.strip())


@dataclasses.dataclass(frozen=True)
class PageResult:
    url: str
    title: str
    publish_date: str | None
    excerpts: list[str] | None
    full_content: str | None = None


@dataclasses.dataclass(frozen=True)
class ExtractFailure:
    url: str
    error_type: str
    message: str
    http_status_code: int | None = None


@dataclasses.dataclass(frozen=True)
class ExtractOutcome:
    results: list[PageResult]
    errors: list[ExtractFailure]


class SearchService:
    """Search and Extract for API clients, on the engine's own parts.

    `index` serves extract's pages without HTTP when it holds them; `reader`
    (the fetcher) reads the rest, within `read_timeout` seconds for a whole
    extract and `search_read_timeout` for the pages a search must read because
    its provider gave only a snippet.
    """

    def __init__(
        self,
        providers: Sequence[SearchProvider],
        embedder: TextEmbedder,
        *,
        index: IndexedPages | None = None,
        reader: PageReader | None = None,
        read_timeout: float = 15.0,
        search_read_timeout: float = 5.0,
    ) -> None:
        self._providers = list(providers)
        self._embedder = embedder
        self._index = index
        self._reader = reader
        self._read_timeout = read_timeout
        self._search_read_timeout = search_read_timeout

    async def search(self, request: WebSearchRequest) -> list[PageResult]:
        """The best pages for the request, best first, each with its excerpts."""
        queries = request.queries
        if not queries:
            raise InvalidRequestError("Provide an 'objective' or at least one of 'search_queries'.", param="objective")
        limit = max(MIN_HITS_PER_QUERY, request.max_results * HITS_PER_RESULT)
        found, failures = await search_everywhere(self._providers, queries, limit=limit)
        if failures and not found and len(failures) == len(queries) * len(self._providers):
            raise failures[0]  # every search failed: say why rather than answer nothing
        hits = [hit for hit in found if request.source_policy.allows(hit.url, hit.publish_date)]
        candidates = await self._candidates(hits, request.max_results)
        query = request.ranking_query
        ranked = await rank_passages(
            query,
            candidates[:MAX_CANDIDATES],
            embedder=self._embedder,
            budget_tokens=UNBOUNDED_CHARS,
            count_tokens=len,
            max_per_page=request.max_excerpts_per_result,
        )
        by_url: dict[str, list[Candidate]] = {}
        for passage in ranked:
            by_url.setdefault(passage.url, []).append(passage.candidate)
        results: list[PageResult] = []
        for url, passages in by_url.items():
            if len(results) == request.max_results:
                break
            excerpts = select_excerpts(
                query, passages, max_chars=request.max_chars_per_result, max_excerpts=request.max_excerpts_per_result
            )
            if excerpts:
                first = passages[0]
                results.append(PageResult(url, first.title, first.publish_date, excerpts))
        return results

    async def extract(self, request: ExtractRequest) -> ExtractOutcome:
        """Each URL's page: its excerpts and/or full text, or why it could not be read."""
        urls = list(dict.fromkeys(request.urls))
        pages, failures = await self._read_pages(urls)
        results = await asyncio.gather(*(self._extract_page(url, *pages[url], request) for url in urls if url in pages))
        return ExtractOutcome(list(results), [failures[url] for url in urls if url in failures])

    async def _read_pages(self, urls: list[str]) -> tuple[dict[str, tuple[str, str]], dict[str, ExtractFailure]]:
        """url -> (title, text) from the index, else from the web; and url -> why it could not be read."""
        pages: dict[str, tuple[str, str]] = {}
        failures: dict[str, ExtractFailure] = {}
        if self._index is not None:
            indexed = await asyncio.gather(*(self._index.page(url) for url in urls))
            pages.update((page.url, (page.title, page.text)) for page in indexed if page is not None)
        remote = [url for url in urls if url not in pages]
        if not remote:
            return pages, failures
        if self._reader is None:
            for url in remote:
                failures[url] = ExtractFailure(url, "not_indexed", f"{url} is not in the local index")
            return pages, failures
        fetched = await self._reader.fetch_many(remote, total_timeout=self._read_timeout)
        for url in remote:
            page = fetched.get(url)
            if page is None:
                failures[url] = ExtractFailure(url, "fetch_failed", f"{url}: not read")
            elif isinstance(page, DeepciteError):
                failures[url] = extract_failure(url, page)
            else:
                pages[url] = (page.title, page.text)
        return pages, failures

    async def _candidates(self, hits: Sequence[SearchHit], max_pages: int) -> list[Candidate]:
        """Passages to rank: the index's own, and those of web pages read in place of their snippets."""
        candidates: list[Candidate] = []
        snippets: dict[str, list[SearchHit]] = {}
        for hit in hits:
            if hit.page_text is not None:
                candidates.append(Candidate.from_hit(hit))
            else:
                snippets.setdefault(hit.url, []).append(hit)
        to_read = list(snippets)[:max_pages]
        read: dict[str, tuple[str, str]] = {}
        if to_read and self._reader is not None:
            fetched = await self._reader.fetch_many(to_read, total_timeout=self._search_read_timeout)
            read = {
                url: (page.title, page.text)
                for url, page in fetched.items()
                if not isinstance(page, DeepciteError) and page.text.strip()
            }
        for url, url_hits in snippets.items():
            if url not in read:
                candidates.extend(Candidate.from_hit(hit) for hit in url_hits)
                continue
            page_title, text = read[url]
            first = url_hits[0]
            candidates.extend(
                Candidate(
                    url=url,
                    title=first.title or page_title,
                    text=passage.text,
                    page_text=text,
                    start=passage.start,
                    provider=first.provider,
                    publish_date=first.publish_date,
                )
                for passage in split_passages(text)
            )
        return candidates

    async def _extract_page(self, url: str, title: str, text: str, request: ExtractRequest) -> PageResult:
        excerpts: list[str] | None = None
        if request.excerpts:
            passages = [Candidate(url, title, p.text, text, p.start) for p in split_passages(text)]
            query = request.ranking_query
            if query and passages:
                ranked = await rank_passages(
                    query,
                    passages,
                    embedder=self._embedder,
                    budget_tokens=UNBOUNDED_CHARS,
                    count_tokens=len,
                    max_per_page=len(passages),
                )
                passages = [r.candidate for r in ranked]
            excerpts = select_excerpts(query, passages, max_chars=request.max_chars_per_result)
        full_content = None
        if request.full_content:
            full_content = text if request.max_full_content_chars is None else text[: request.max_full_content_chars]
        return PageResult(url, title, None, excerpts, full_content)


def extract_failure(url: str, error: DeepciteError) -> ExtractFailure:
    status = _HTTP_STATUS.search(error.message) if error.code == "http_error" else None
    return ExtractFailure(
        url=url,
        error_type=error.code or error.type,
        message=error.message,
        http_status_code=int(status.group(1)) if status else None,
    )


def select_excerpts(
    query: str, passages: Sequence[Candidate], *, max_chars: int, max_excerpts: int | None = None
) -> list[str]:
    """Excerpts from `passages`, in the order given, that fit together in `max_chars`.

    A passage too long for what is left is cut to its best run of whole
    sentences (its first ones when nothing matches `query`). Only text found
    verbatim in its page is returned.
    """
    excerpts: list[str] = []
    remaining = max_chars
    for passage in passages:
        if max_excerpts is not None and len(excerpts) >= max_excerpts:
            break
        if remaining < MIN_EXCERPT_CHARS and excerpts:
            break
        text = passage.text.strip()
        if len(text) > remaining:
            text = trim_to_sentences(query, text, remaining)
        page_text = passage.page_text if passage.page_text is not None else passage.text
        if text and text not in excerpts and verbatim(text, page_text):
            excerpts.append(text)
            remaining -= len(text)
    return excerpts


def trim_to_sentences(query: str, text: str, max_chars: int) -> str:
    """The best run of whole sentences of `text` within `max_chars`, verbatim.

    The run starts at the sentence that best matches `query` (the first one when
    none does) and grows to its neighbours, forward first, while it fits. A lone
    sentence longer than `max_chars` is cut at the last space that fits.
    """
    spans = split_sentences(text)
    if not spans or max_chars <= 0:
        return ""
    best = best_sentences(query, text, 1) if query else []
    first = last = spans.index(best[0]) if best and best[0] in spans else 0
    start, end = spans[first]
    if end - start > max_chars:
        # Cut between words; a script without spaces is cut where the budget ends.
        cut = text.rfind(" ", start, start + max_chars + 1)
        return text[start:cut].rstrip() if cut > start else text[start : start + max_chars]
    while True:
        if last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= max_chars:
            last += 1
        elif first > 0 and spans[last][1] - spans[first - 1][0] <= max_chars:
            first -= 1
        else:
            return text[spans[first][0] : spans[last][1]]
