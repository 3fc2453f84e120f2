"""What the engine is asked: a conversation, a research profile and an optional output schema."""

from __future__ import annotations

import dataclasses
from typing import Any

from deepcite.llm.base import ChatMessage
from deepcite.search.policy import SourcePolicy


@dataclasses.dataclass(frozen=True)
class ResearchRequest:
    model: str
    messages: list[ChatMessage]
    # JSON Schema the content must validate against; `{"type": "object"}` for json_object.
    json_schema: dict[str, Any] | None = None
    # Which pages may be searched and cited; None: any.
    source_policy: SourcePolicy | None = None
