"""The research engine reading real web pages found by a web search provider.

Everything is real except the search service: a fake SearXNG on 127.0.0.1
(SearXNG's JSON search API, as documented) lists pages of a real local web site
(`tests/fetch/local_site.py`: an article in boilerplate, a PDF, a slow page).
The engine is wired as `deepcite.runtime` wires it: the SearXNG provider, a real
`Fetcher`, the sentence encoder and the embedded LLM.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse, urlsplit

import pytest
from tests.fetch.local_site import (
    ARTICLE_SENTENCES,
    ARTICLE_TITLE,
    PDF_SENTENCE,
    SLOW_SECONDS,
    LocalSite,
)
from tests.support.loopback import Loopback, LoopbackHandler, LoopbackServer, serve_in_thread

from deepcite.config import Settings
from deepcite.errors import FetchError
from deepcite.fetch.fetcher import Fetcher
from deepcite.llm.base import ChatMessage, ChatModel
from deepcite.llm.encoder import SentenceEncoder
from deepcite.llm.registry import build_chat_model
from deepcite.research.conversation import read_conversation
from deepcite.research.engine import ResearchEngine
from deepcite.research.events import Basis, Done, Progress, ResearchEvent
from deepcite.research.gather import Findings, Researcher
from deepcite.research.profiles import PROFILES
from deepcite.research.request import ResearchRequest
from deepcite.search.searxng import SearxngSearch

QUESTION = "How far does an Arctic tern fly in a year?"
LITE = PROFILES["lite"]
# Ranking, extraction of the pages that did arrive and thread hand-offs, on 2 busy cores;
# budget + slack stays under SLOW_SECONDS, so waiting for the slow page would fail.
BUDGET_SLACK = 1.5

# A search snippet is the search service's wording, never the page's: it must not be quoted.
ARTICLE_SNIPPET = "Arctic terns fly pole to pole, some 90,000 km a year, the longest migration known."
# A private page whose snippet answers the question (wrongly), and would be quoted if believed.
PRIVATE_SNIPPET = "Tracking studies show that an Arctic tern flies roughly 70,000 km in a year."


class FakeSearxng(Loopback):
    """SearXNG's `/search?format=json` on 127.0.0.1, listing whatever `results` holds."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.results: list[dict[str, Any]] = []
        self.queries: list[str] = []

    def list_pages(self, *pages: tuple[str, str, str]) -> None:
        """Answer every query with these (url, title, snippet) results, in this order."""
        self.results = [
            {
                "url": url,
                "title": title,
                "content": snippet,
                "engine": "duckduckgo",
                "parsed_url": list(urlparse(url)),
                "template": "default.html",
                "engines": ["duckduckgo"],
                "positions": [position + 1],
                "publishedDate": None,
                "score": 1.0 / (position + 1),
                "category": "general",
            }
            for position, (url, title, snippet) in enumerate(pages)
        ]


class _SearxngHandler(LoopbackHandler):
    server: LoopbackServer[FakeSearxng]

    def do_GET(self) -> None:
        fake = self.server.state
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        if parts.path != "/search" or params.get("format") != ["json"]:
            self.send_error(403)  # what SearXNG says when the json format is not asked for
            return
        fake.queries.extend(params.get("q", []))
        body = json.dumps(
            {
                "query": params.get("q", [""])[0],
                "number_of_results": 0,
                "results": fake.results,
                "answers": [],
                "corrections": [],
                "infoboxes": [],
                "suggestions": [],
                "unresponsive_engines": [],
            }
        ).encode()
        self.send_body(200, "application/json", body)


@pytest.fixture
def searxng() -> Iterator[FakeSearxng]:
    with serve_in_thread(_SearxngHandler, FakeSearxng) as served:
        yield served


@pytest.fixture(scope="session")
def llm() -> Iterator[ChatModel]:
    model = build_chat_model(Settings())
    load = getattr(model, "load", None)
    if load is not None:
        asyncio.run(load())
    yield model
    close = getattr(model, "aclose", None)
    if close is not None:
        asyncio.run(close())


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    # The site is on loopback: allowed by name, and only by that name.
    async with Fetcher(Settings(fetch_allow_hosts="127.0.0.1:*")) as reader:
        yield reader


def _researcher(searxng: FakeSearxng, fetcher: Fetcher, embedder: SentenceEncoder, llm: ChatModel) -> Researcher:
    return Researcher(
        providers=[SearxngSearch(searxng.base_url)],
        embedder=embedder,
        count_tokens=llm.count_tokens,
        reader=fetcher,
    )


async def _gather(researcher: Researcher, question: str) -> tuple[Findings, float]:
    findings = Findings()
    started = time.monotonic()
    try:
        async for _ in researcher.gather(read_conversation([ChatMessage("user", question)]), LITE, findings):
            pass
    finally:
        for provider in researcher.providers:
            await provider.aclose()  # type: ignore[attr-defined]
    return findings, time.monotonic() - started


async def test_lite_answer_cites_the_pages_it_read_verbatim(
    searxng: FakeSearxng, local_site: LocalSite, fetcher: Fetcher, embedder: SentenceEncoder, llm: ChatModel
) -> None:
    private = "http://10.255.255.1/x"
    searxng.list_pages(
        (private, "Tern facts", PRIVATE_SNIPPET),
        (local_site.url("/article"), ARTICLE_TITLE, ARTICLE_SNIPPET),
        (local_site.url("/report.pdf"), "Tern Survey Report", "Farne Island tern colony counts."),
        (local_site.url("/slow"), "Terns, slowly", "Arctic tern migration distances explained."),
    )
    researcher = _researcher(searxng, fetcher, embedder, llm)
    engine = ResearchEngine(researcher, llm)
    events: list[ResearchEvent] = []
    started = time.monotonic()
    writing_began: float | None = None
    try:
        async for event in engine.run(ResearchRequest("lite", [ChatMessage("user", QUESTION)])):
            events.append(event)
            if isinstance(event, Progress) and event.stage == "write" and writing_began is None:
                writing_began = time.monotonic() - started
    finally:
        for provider in researcher.providers:
            await provider.aclose()  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started

    assert searxng.queries, "the engine never searched"
    assert isinstance(events[-1], Done)  # a refused page is no error to the client
    basis_events = [e for e in events if isinstance(e, Basis)]
    assert len(basis_events) == 1
    (field,) = basis_events[0].basis
    cited = {c.url for c in field.citations}
    steps = [e.message for e in events if isinstance(e, Progress)]
    assert cited, f"nothing cited; answer: {basis_events[0].content!r}; steps: {steps}"
    assert cited <= {local_site.url("/article"), local_site.url("/report.pdf")}
    assert local_site.url("/article") in cited
    assert private not in {a.url for a in basis_events[0].annotations}

    # Every excerpt is a verbatim piece of the page text the fetcher extracts, not of a snippet.
    for citation in field.citations:
        page = await fetcher.fetch(citation.url)
        assert citation.excerpts
        for excerpt in citation.excerpts:
            assert excerpt in page.text, (citation.url, excerpt)
            assert excerpt not in ARTICLE_SNIPPET

    # The slow page was asked for, and given up on when the research budget ran out.
    assert local_site.hits("/slow") == 1
    # Writing time is the model's (and the machine's) business; research must end on budget.
    assert writing_began is not None and writing_began < LITE.time_budget + BUDGET_SLACK, writing_began
    print(f"\nlite over a local site: writing began after {writing_began:.2f}s, answer done after {elapsed:.2f}s")


@pytest.mark.parametrize(
    "private_url",
    [
        "http://10.255.255.1/x",
        "http://localhost:{port}/article",  # this very site, by a name that is not allowed
        "http://[::1]:{port}/article",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_a_private_page_is_refused_and_not_cited(
    private_url: str,
    searxng: FakeSearxng,
    local_site: LocalSite,
    fetcher: Fetcher,
    embedder: SentenceEncoder,
    llm: ChatModel,
) -> None:
    private = private_url.format(port=local_site.port)
    searxng.list_pages(
        (private, "Tern facts", PRIVATE_SNIPPET),
        (local_site.url("/article"), ARTICLE_TITLE, ARTICLE_SNIPPET),
    )
    findings, _ = await _gather(_researcher(searxng, fetcher, embedder, llm), QUESTION)

    with pytest.raises(FetchError) as refused:
        await fetcher.fetch(private)
    assert refused.value.code == "url_refused"
    assert private not in findings.pages
    assert findings.evidence, "the allowed page should still give evidence"
    assert {e.url for e in findings.evidence} == {local_site.url("/article")}
    for evidence in findings.evidence:
        assert evidence.page_text == findings.pages[evidence.url][1]
        assert evidence.text in evidence.page_text
    assert local_site.hits("/article") == 1  # only by its allowed name


async def test_pages_are_read_within_the_time_budget(
    searxng: FakeSearxng, local_site: LocalSite, fetcher: Fetcher, embedder: SentenceEncoder, llm: ChatModel
) -> None:
    searxng.list_pages(
        (local_site.url("/slow"), "Terns, slowly", "Arctic tern migration distances explained."),
        (local_site.url("/article"), ARTICLE_TITLE, ARTICLE_SNIPPET),
        (local_site.url("/report.pdf"), "Tern Survey Report", "Farne Island tern colony counts."),
    )
    assert LITE.time_budget + BUDGET_SLACK < SLOW_SECONDS  # or waiting for the slow page would pass too
    findings, elapsed = await _gather(
        _researcher(searxng, fetcher, embedder, llm), "How many breeding pairs of terns were on Farne Island?"
    )
    assert elapsed < LITE.time_budget + BUDGET_SLACK, elapsed
    assert local_site.hits("/slow") == 1
    assert local_site.url("/slow") not in findings.pages
    assert ARTICLE_SENTENCES[0] in findings.pages[local_site.url("/article")][1]
    assert PDF_SENTENCE in findings.pages[local_site.url("/report.pdf")][1]
    assert findings.evidence[0].url == local_site.url("/report.pdf")
    assert findings.evidence[0].text in PDF_SENTENCE or PDF_SENTENCE in findings.evidence[0].text
