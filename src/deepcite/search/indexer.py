"""Fill the local index from sources: `deepcite index SOURCE...` and the first-run sample corpus.

Indexing is incremental: a page whose title and text did not change since it
was last indexed is counted as unchanged and costs no write.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.resources
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Literal

import httpx

from deepcite.search.local_index import LocalIndex
from deepcite.search.sources import SourceDocument, SourceFailure, Target, load_target, plan_sources

Outcome = Literal["added", "updated", "unchanged", "failed"]

# Targets read at once: enough to overlap network waits, few enough to be polite to one site.
CONCURRENCY = 8
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "deepcite-indexer/0.1"
SAMPLE_CORPUS = "sample_corpus.jsonl.gz"


@dataclasses.dataclass(frozen=True)
class IndexProgress:
    """One step of an indexing run.

    The first event has `outcome` None and `done` 0: the sources are planned and
    `total` is known. Each later event is one document (or one failure).
    """

    done: int
    total: int
    current: str  # the URL (or file, or jsonl line) just indexed; "" on the first event
    outcome: Outcome | None


@dataclasses.dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[SourceFailure] = dataclasses.field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


async def index_sources(
    index: LocalIndex,
    sources: list[str],
    *,
    on_progress: Callable[[IndexProgress], None] | None = None,
    http: httpx.AsyncClient | None = None,
) -> IndexReport:
    """Index every document the sources hold; failures are reported, never raised."""
    async with _http_client(http) as client:
        plan = await plan_sources(sources, client)
        report = IndexReport(failed=len(plan.failures), failures=list(plan.failures))
        run = _Run(index, client, report, plan.total, on_progress)
        run.emit("", None)
        targets = iter(plan.targets)
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(min(CONCURRENCY, len(plan.targets))):
                    workers.create_task(run.work(targets))
        except BaseExceptionGroup as group:
            # Only the index itself failing gets here (a bad source is a reported failure):
            # surface that one error, not a group.
            raise group.exceptions[0] from None
    return report


async def seed_sample_corpus(index: LocalIndex) -> IndexReport | None:
    """Fill an empty index with the bundled sample corpus; None when the index already has pages."""
    if not await index.is_empty():
        return None
    corpus = importlib.resources.files("deepcite") / "data" / SAMPLE_CORPUS
    with importlib.resources.as_file(corpus) as path:
        return await index_sources(index, [str(path)])


class _Run:
    """The shared state of one indexing run; workers take targets from one iterator."""

    def __init__(
        self,
        index: LocalIndex,
        http: httpx.AsyncClient,
        report: IndexReport,
        total: int,
        on_progress: Callable[[IndexProgress], None] | None,
    ) -> None:
        self.index = index
        self.http = http
        self.report = report
        self.total = total
        self.done = 0
        self.on_progress = on_progress

    async def work(self, targets: Iterator[Target]) -> None:
        # Safe without a lock: `next` and the counters only run between awaits, on one loop.
        for target in targets:
            async for item in load_target(target, self.http):
                await self.record(item)

    async def record(self, item: SourceDocument | SourceFailure) -> None:
        if isinstance(item, SourceFailure):
            self.report.failures.append(item)
            outcome: Outcome = "failed"
            url = item.where
        else:
            outcome = await self.index.upsert(item.url, item.title, item.text, item.source)
            url = item.url
        self.report.count(outcome)
        self.done += 1
        self.emit(url, outcome)

    def emit(self, url: str, outcome: Outcome | None) -> None:
        if self.on_progress is not None:
            self.on_progress(IndexProgress(self.done, max(self.total, self.done), url, outcome))


@contextlib.asynccontextmanager
async def _http_client(http: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    """The caller's HTTP client, or one of our own that is closed afterwards."""
    if http is not None:
        yield http
        return
    async with httpx.AsyncClient(follow_redirects=True, timeout=HTTP_TIMEOUT, headers={"user-agent": USER_AGENT}) as client:
        yield client
