"""Run every query on every provider at once, keeping what arrives in time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from deepcite.errors import DeepciteError, UpstreamError
from deepcite.search.base import SearchHit, SearchProvider


async def search_everywhere(
    providers: Sequence[SearchProvider], queries: Sequence[str], *, limit: int, within: float | None = None
) -> tuple[list[SearchHit], list[DeepciteError]]:
    """Hits of all searches, in query then provider order, and the failures of the others.

    One provider failing or being late must not sink the rest, so failures are
    returned rather than raised; the caller decides whether all failing is an error.
    """
    tasks = [asyncio.ensure_future(p.search(q, limit=limit)) for q in queries for p in providers]
    if not tasks:
        return [], []
    done, late = await asyncio.wait(tasks, timeout=within)  # partial results beat none
    for task in late:
        task.cancel()
    hits: list[SearchHit] = []
    failures: list[DeepciteError] = []
    for task in tasks:
        if task not in done:
            failures.append(UpstreamError("search did not answer in time"))
            continue
        error = task.exception()
        if isinstance(error, DeepciteError):
            failures.append(error)
        elif isinstance(error, OSError):
            failures.append(UpstreamError(f"search failed: {error}"))
        elif error is not None:
            raise error
        else:
            hits.extend(task.result())
    return hits, failures
