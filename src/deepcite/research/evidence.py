"""Numbered evidence: the verbatim excerpts the model is shown and the basis cites."""

from __future__ import annotations

import dataclasses
from urllib.parse import urldefrag


@dataclasses.dataclass(frozen=True)
class Evidence:
    number: int  # the `[n]` marker that cites it
    url: str
    title: str
    text: str  # a verbatim substring of `page_text`
    page_text: str
    lead: str = ""  # the sentence of `text` that best answers the question
    relevance: float = 0.0  # the sentence encoder's cosine of question and title + text
    led_from: str = ""  # the url of the page whose text named this one (the hop before it)

    @property
    def source_key(self) -> str:
        """What counts as one source when agreement is counted: the page, without its fragment."""
        return urldefrag(self.url).url


def verbatim(excerpt: str, page_text: str) -> bool:
    """Every excerpt we emit must pass this; an excerpt that fails it is dropped."""
    return bool(excerpt.strip()) and excerpt in page_text
