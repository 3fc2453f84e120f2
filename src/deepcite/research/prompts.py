"""Prompts for the writer. The system prompt is fixed so the model's KV cache keeps it."""

from __future__ import annotations

import json
from typing import Any

from deepcite.llm.base import ChatMessage
from deepcite.research.conversation import Conversation
from deepcite.research.evidence import Evidence

SYSTEM_PROMPT = (
    "You are deepcite, a research assistant. Answer the question using only the numbered "
    "sources. Answer in one or two short factual sentences. Copy names, numbers and dates "
    "exactly as the sources write them."
)

JSON_SYSTEM_PROMPT = (
    "You are deepcite, a research assistant. Fill the JSON object using only the numbered "
    "sources. Copy names, numbers and dates exactly as the sources write them."
)

_HISTORY_TURNS = 2
_HISTORY_CHARS = 300


def format_evidence(evidence: list[Evidence]) -> str:
    return "\n".join(f"[{e.number}] {e.title}: {' '.join(e.text.split())}" for e in evidence)


def answer_messages(
    conversation: Conversation, evidence: list[Evidence], schema: dict[str, Any] | None = None
) -> list[ChatMessage]:
    """The fixed system prompt first (cached), then recent turns, then sources and question."""
    messages = [ChatMessage("system", JSON_SYSTEM_PROMPT if schema is not None else SYSTEM_PROMPT)]
    for turn in conversation.history[-_HISTORY_TURNS:]:
        if turn.role in ("user", "assistant"):
            messages.append(ChatMessage(turn.role, turn.content[:_HISTORY_CHARS]))
    parts = [f"Sources:\n{format_evidence(evidence)}"]
    if conversation.instructions:
        parts.append(f"Instructions: {conversation.instructions}")
    if schema is not None:
        parts.append(f"JSON schema of the answer: {json.dumps(schema, separators=(',', ':'))}")
    parts.append(f"Question: {conversation.question}")
    messages.append(ChatMessage("user", "\n\n".join(parts)))
    return messages
