"""Every query on every provider: failures and late answers are reported, not raised."""

from __future__ import annotations

import asyncio

from deepcite.errors import UpstreamError
from deepcite.search.base import SearchHit
from deepcite.search.fanout import search_everywhere


class Provider:
    def __init__(self, name: str, *, delay: float = 0.0, fails: bool = False) -> None:
        self.name, self.delay, self.fails = name, delay, fails

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        await asyncio.sleep(self.delay)
        if self.fails:
            raise UpstreamError(f"{self.name} is down")
        return [SearchHit(f"https://{self.name}/{query}", query, query, 1.0, self.name)]


async def test_hits_arrive_in_query_then_provider_order_and_failures_are_returned() -> None:
    providers = [Provider("a"), Provider("down", fails=True), Provider("slow", delay=5), Provider("b")]
    hits, failures = await search_everywhere(providers, ["x", "y"], limit=3, within=0.5)
    assert [h.url for h in hits] == ["https://a/x", "https://b/x", "https://a/y", "https://b/y"]
    assert sorted(f.message for f in failures) == sorted(["down is down"] * 2 + ["search did not answer in time"] * 2)


async def test_no_provider_means_no_hits() -> None:
    assert await search_everywhere([], ["x"], limit=3) == ([], [])
