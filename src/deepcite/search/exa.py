"""Exa: a neural web search API that can return page text with each result.

`POST {base_url}/search` with `{"query", "numResults", "contents": {"text":
{"maxCharacters"}}}` and the key in `x-api-key`; the hits are `results[]`. The
text Exa returns is its own extraction, so the page is still read before it is
quoted.
"""

from __future__ import annotations

from deepcite.search.base import SearchHit
from deepcite.search.web_api import DEFAULT_TIMEOUT, SearchApiClient, hits_from

EXA_BASE_URL = "https://api.exa.ai"
MAX_RESULTS = 100  # Exa's documented ceiling for `numResults`
# About a passage: enough to rank the result, little enough to keep the response small.
SNIPPET_CHARACTERS = 1000


class ExaSearch:
    name = "exa"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = EXA_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        snippet_characters: int = SNIPPET_CHARACTERS,
    ) -> None:
        self._api = SearchApiClient(self.name, base_url=base_url, headers={"x-api-key": api_key}, timeout=timeout)
        self._snippet_characters = snippet_characters

    async def aclose(self) -> None:
        await self._api.aclose()

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        if limit <= 0:
            return []
        count = min(limit, MAX_RESULTS)
        body = {
            "query": query,
            "numResults": count,
            "contents": {"text": {"maxCharacters": self._snippet_characters}},
        }
        payload = await self._api.post_json("/search", body=body)
        items = self._api.results(payload, "results")
        return hits_from(self.name, items, limit=count, text_keys=("text",), date_keys=("publishedDate",))
