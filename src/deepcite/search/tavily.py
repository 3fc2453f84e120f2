"""Tavily: a search API made for LLM agents.

`POST {base_url}/search` with `{"query", "max_results"}` and the key as a Bearer
token; the hits are `results[]`, each with a `content` snippet taken from the page.
"""

from __future__ import annotations

from deepcite.search.base import SearchHit
from deepcite.search.web_api import DEFAULT_TIMEOUT, SearchApiClient, hits_from

TAVILY_BASE_URL = "https://api.tavily.com"
MAX_RESULTS = 20  # Tavily's documented ceiling for `max_results`


class TavilySearch:
    name = "tavily"

    def __init__(self, api_key: str, *, base_url: str = TAVILY_BASE_URL, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._api = SearchApiClient(
            self.name, base_url=base_url, headers={"authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        if limit <= 0:
            return []
        count = min(limit, MAX_RESULTS)
        payload = await self._api.post_json("/search", body={"query": query, "max_results": count})
        items = self._api.results(payload, "results")
        return hits_from(self.name, items, limit=count, text_keys=("content",), date_keys=("published_date",))
