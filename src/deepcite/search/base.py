"""What a search provider is: one async method that turns a query into hits."""

from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One passage of one page that matched a query.

    `text` is a verbatim substring of the page's text, so it can be quoted as an
    excerpt. `page_text` is the whole page when the provider has it (the local
    index does), so readers need not fetch it again.
    """

    url: str
    title: str
    text: str
    score: float
    provider: str
    passage_id: int | None = None
    page_text: str | None = None
    publish_date: str | None = None


class SearchProvider(Protocol):
    name: str

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        """Return up to `limit` hits, best first."""
        ...
