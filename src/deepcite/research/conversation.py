"""Read a chat conversation as a research question.

The last user message is the question; earlier turns give it context, so a follow-up
such as "and when was he born?" is searched together with the subject it refers to.
"""

from __future__ import annotations

import dataclasses
import re

from deepcite.errors import InvalidRequestError
from deepcite.llm.base import ChatMessage

# Words that make a follow-up depend on an earlier turn.
_REFERRING = re.compile(
    r"\b(he|she|it|its|they|them|their|his|her|this|that|these|those|there|then|the same)\b", re.I
)
_CONTEXT_WORDS = 12


@dataclasses.dataclass(frozen=True)
class Conversation:
    question: str
    instructions: str  # the user's own system messages, joined
    history: list[ChatMessage]  # earlier user/assistant turns, oldest first
    search_context: str  # words from earlier turns that a follow-up refers to

    @property
    def search_text(self) -> str:
        """The question as the search engine should see it."""
        return f"{self.question} {self.search_context}".strip()


def read_conversation(messages: list[ChatMessage]) -> Conversation:
    instructions = "\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    turns = [m for m in messages if m.role != "system"]
    last_user = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user"), None)
    if last_user is None or not turns[last_user].content.strip():
        raise InvalidRequestError("messages must contain a user message with text", param="messages")
    question = turns[last_user].content.strip()
    history = turns[:last_user]
    return Conversation(
        question=question,
        instructions=instructions,
        history=history,
        search_context=_context_for(question, history),
    )


def _context_for(question: str, history: list[ChatMessage]) -> str:
    """Words of the previous user turn when the question leans on it (pronouns, brevity)."""
    earlier = [m.content for m in history if m.role == "user"]
    if not earlier:
        return ""
    short = len(question.split()) <= 6
    if not (short or _REFERRING.search(question)):
        return ""
    words = re.findall(r"\w[\w'-]*", earlier[-1])
    return " ".join(words[:_CONTEXT_WORDS])
