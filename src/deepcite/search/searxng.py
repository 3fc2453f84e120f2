"""SearXNG: a self-hosted metasearch engine, asked through its JSON search API.

`GET {searxng_url}/search?q=...&format=json` (the instance must list `json` in
`search.formats` of its settings.yml, or it answers 403). SearXNG returns a page
of results whatever the limit, so the limit is applied here.
"""

from __future__ import annotations

from deepcite.search.base import SearchHit
from deepcite.search.web_api import DEFAULT_TIMEOUT, SearchApiClient, hits_from


class SearxngSearch:
    name = "searxng"

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._api = SearchApiClient(self.name, base_url=base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._api.aclose()

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        if limit <= 0:
            return []
        payload = await self._api.get_json("/search", params={"q": query, "format": "json"})
        items = self._api.results(payload, "results")
        return hits_from(self.name, items, limit=limit, text_keys=("content",), date_keys=("publishedDate",))
