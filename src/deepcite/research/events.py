"""Typed events the research engine emits; the API turns them into SSE chunks or one body.

Failures are raised as `DeepciteError`s from the event stream, never sent as text.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from deepcite.research.basis import FieldBasis, UrlCitation


@dataclasses.dataclass(frozen=True)
class Progress:
    """Research is under way: a query was issued, a page was read, a round ended."""

    stage: Literal["queue", "search", "read", "rank", "plan", "write", "verify"]
    message: str


@dataclasses.dataclass(frozen=True)
class TextDelta:
    text: str


@dataclasses.dataclass(frozen=True)
class Basis:
    """Sent once the whole content is known. `content` is the final content: for JSON
    answers it may differ from the streamed text (repaired to validate)."""

    content: str
    basis: list[FieldBasis]
    annotations: list[UrlCitation]


@dataclasses.dataclass(frozen=True)
class Done:
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int


ResearchEvent = Progress | TextDelta | Basis | Done
