"""The research basis: for every part of an answer, its citations, reasoning and confidence."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Confidence = Literal["low", "medium", "high"]


@dataclasses.dataclass(frozen=True)
class Citation:
    url: str
    title: str | None
    excerpts: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "title": self.title, "excerpts": list(self.excerpts)}


@dataclasses.dataclass(frozen=True)
class FieldBasis:
    field: str
    citations: list[Citation]
    reasoning: str
    confidence: Confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "citations": [c.to_dict() for c in self.citations],
            "reasoning": self.reasoning,
            "confidence": self.confidence,
        }


@dataclasses.dataclass(frozen=True)
class UrlCitation:
    """OpenAI's `url_citation` annotation: a marker's span in the content and its source."""

    start_index: int
    end_index: int
    url: str
    title: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "url_citation",
            "url_citation": {
                "start_index": self.start_index,
                "end_index": self.end_index,
                "url": self.url,
                "title": self.title,
            },
        }
