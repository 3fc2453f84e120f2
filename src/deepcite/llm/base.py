"""What a chat model is: one async method that streams text for a conversation."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclasses.dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclasses.dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 256
    temperature: float = 0.0
    # When set, the output must be JSON valid against this JSON Schema
    # (grammar-constrained for the embedded model, validated upstream).
    json_schema: dict[str, Any] | None = None
    stop: tuple[str, ...] = ()


class ChatModel(Protocol):
    name: str

    def stream(self, messages: list[ChatMessage], options: GenerationOptions) -> AsyncGenerator[str, None]:
        """Yield the completion's text piece by piece as it is generated."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` costs in this model's prompt (an estimate is fine upstream)."""
        ...
