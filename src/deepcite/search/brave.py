"""Brave Search: the web search endpoint of the Brave Search API.

`GET {base_url}/web/search?q=...&count=N` with the key in `X-Subscription-Token`;
the hits are `web.results[]`, whose `description` bolds the matched words in HTML.
"""

from __future__ import annotations

from deepcite.search.base import SearchHit
from deepcite.search.web_api import DEFAULT_TIMEOUT, SearchApiClient, hits_from

BRAVE_BASE_URL = "https://api.search.brave.com/res/v1"
MAX_COUNT = 20  # Brave refuses a larger `count`


class BraveSearch:
    name = "brave"

    def __init__(self, api_key: str, *, base_url: str = BRAVE_BASE_URL, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._api = SearchApiClient(
            self.name, base_url=base_url, headers={"x-subscription-token": api_key}, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        if limit <= 0:
            return []
        count = min(limit, MAX_COUNT)
        payload = await self._api.get_json("/web/search", params={"q": query, "count": count})
        items = self._api.results(payload, "web", "results")
        # `page_age` is a date; `age` is Brave's display form ("3 days ago"), better than none.
        return hits_from(self.name, items, limit=count, text_keys=("description",), date_keys=("page_age", "age"))
