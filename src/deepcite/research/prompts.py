"""Prompts of the model's steps: read the answer, say it in a sentence, fill a JSON object,
choose the next search.

Every step begins with the same system prompt and the same sources-and-question turn,
so the embedded model's KV cache evaluates the evidence once and the later steps only
pay for their own few tokens.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from deepcite.llm.base import ChatMessage
from deepcite.research.conversation import Conversation
from deepcite.research.evidence import Evidence
from deepcite.research.reader import NOT_FOUND, asks_yes_or_no, clean_model_answer, options_offered
from deepcite.research.sides import TwoSides
from deepcite.research.text import content_words

SYSTEM_PROMPT = (
    "You are deepcite, a research assistant. You answer questions using only the numbered "
    "sources, copying names, numbers and dates exactly as the sources write them."
)

READ_ANSWER = (
    "Reply with only the answer: a few words copied exactly from the sources (a name, number, "
    "date or short phrase), not a sentence."
)
READ_YES_NO = "Reply with only yes or no."
READ_CHOICE = "Reply with only the one the sources point to: {} or {}."
# A question about two things asked of one of them (see `sides`).
READ_SHARED = "Reply with only the {} the sources give for {}: a few words."
READ_IS_IT = "Is it {}? Reply with only yes or no."
# What two things have in common, asked of one alone: told so, the model no longer answers
# "What are Bob Marley?" with "Robert Nesta Marley".
READ_OF_ONE = "Reply with only the answer: a few words copied exactly from the sources, not the name of {}."
# Offered only when the evidence is weakly related to the question: a small model offered
# a way out takes it even when the answer is there (measured on HotpotQA: most abstained).
MAY_DECLINE = f" Reply {NOT_FOUND} if no source is about the subject of the question."

NOT_AN_ANSWER = 'Not "{}": reply with the few words of the sources that answer the question.'
NOT_A_NUMBER = 'Not "{}": the question asks for a number or a date. Reply with the one the sources give.'

ANSWER_IN_A_SENTENCE = "Answer the question in one short sentence, using only facts from the sources."
SAY_IN_A_SENTENCE = (
    "Now write one short sentence that begins with this answer and says what it answers, "
    "using only facts from the sources."
)

FILL_JSON = (
    "Reply with the JSON object only. Each value is copied from the sources: a short exact "
    "phrase or a number; a yes-or-no question is answered yes or no (true or false where the "
    "schema asks for a boolean). Leave a string empty when the sources do not say."
)

THE_ANSWER_IS = "The sources answer the question: {}"

NEXT_SEARCH = (
    "The sources may not be enough. Name the one person, place, work or thing the sources "
    "mention whose own page would answer the question. Reply with its name only, or DONE "
    "if the sources already answer the question."
)

_HISTORY_TURNS = 2
_HISTORY_CHARS = 300


def format_evidence(evidence: list[Evidence]) -> str:
    return "\n".join(f"[{e.number}] {e.title}: {' '.join(e.text.split())}" for e in evidence)


def sources_turns(conversation: Conversation, evidence: list[Evidence]) -> list[ChatMessage]:
    """The shared start of every step: system prompt, recent turns, sources and question."""
    messages = [ChatMessage("system", SYSTEM_PROMPT)]
    for turn in conversation.history[-_HISTORY_TURNS:]:
        if turn.role in ("user", "assistant"):
            messages.append(ChatMessage(turn.role, turn.content[:_HISTORY_CHARS]))
    parts = [f"Sources:\n{format_evidence(evidence)}"]
    if conversation.instructions:
        parts.append(f"Instructions: {conversation.instructions}")
    parts.append(f"Question: {conversation.question}")
    return [*messages, ChatMessage("user", "\n\n".join(parts))]


def with_step(start: list[ChatMessage], step: str) -> list[ChatMessage]:
    """`start` with the step's instruction appended to its last user turn."""
    last = start[-1]
    return [*start[:-1], ChatMessage("user", f"{last.content}\n\n{step}")]


def read_answer_messages(
    conversation: Conversation, evidence: list[Evidence], *, may_decline: bool
) -> list[ChatMessage]:
    options = options_offered(conversation.question)
    if options is not None:
        step = READ_CHOICE.format(*options)
    else:
        step = READ_YES_NO if asks_yes_or_no(conversation.question) else READ_ANSWER
    return with_step(sources_turns(conversation, evidence), step + (MAY_DECLINE if may_decline else ""))


def side_messages(conversation: Conversation, sides: TwoSides, side: int) -> list[ChatMessage]:
    """The reading step for one of the two things a question names, from the excerpts of its
    own page: yes or no to a "both" question asked of it alone, the answer to a question of
    what the two have in common asked of it alone, the thing that should be the same
    ("nationality"), or whether it is the one a choice asks for."""
    name, own = sides.names[side], list(sides.excerpts[side])
    if sides.kind in ("both", "common"):
        alone = dataclasses.replace(conversation, question=sides.asked_of(name))
        return with_step(sources_turns(alone, own), READ_YES_NO if sides.kind == "both" else READ_OF_ONE.format(name))
    step = READ_SHARED.format(sides.shared, name) if sides.kind == "same" else READ_IS_IT.format(name)
    return with_step(sources_turns(conversation, own), step)


def echoes_the_ask(said: str) -> bool:
    """The model repeated the reading step's instruction ("a few words copied exactly from
    the sources") instead of answering."""
    words = set(content_words(clean_model_answer(said)))
    return bool(words) and words <= set(content_words(READ_ANSWER))


def not_an_answer(read: list[ChatMessage], said: str) -> list[ChatMessage]:
    """The reading step continued after an answer that only repeats the question or the ask:
    told so, the model names what the sources say (on HotpotQA tune questions: "drifting"
    after "oversteering" for "D1NZ is a series based on what oversteering technique?")."""
    return _told_why_not(read, said, NOT_AN_ANSWER)


def not_a_number(read: list[ChatMessage], said: str) -> list[ChatMessage]:
    """The reading step continued after an answer without a number to a question that asks
    for one ("Spencer Gifts LLC" for "a retailer that has how many stores?")."""
    return _told_why_not(read, said, NOT_A_NUMBER)


def _told_why_not(read: list[ChatMessage], said: str, why_not: str) -> list[ChatMessage]:
    """The reading conversation continued: what the model said, then why it is not the answer."""
    said = clean_model_answer(said)
    return [*read, ChatMessage("assistant", said), ChatMessage("user", why_not.format(said))]


def in_a_sentence(conversation: Conversation, evidence: list[Evidence]) -> list[ChatMessage]:
    """The reading step asked for a whole sentence: a small model that twice said only the
    question's own words often states the answer when it may write a sentence around it."""
    return with_step(sources_turns(conversation, evidence), ANSWER_IN_A_SENTENCE)


def not_the_bridge(read: list[ChatMessage], bridge: str) -> list[ChatMessage]:
    """The reading step again, told that `bridge` only leads to the answer."""
    return with_step(read, f"{bridge} is not the answer: the question asks for something the sources say about it.")


def sentence_messages(read: list[ChatMessage], model_said: str) -> list[ChatMessage]:
    """The reading conversation continued: the model's answer, then the ask for a sentence."""
    return [*read, ChatMessage("assistant", model_said.strip()), ChatMessage("user", SAY_IN_A_SENTENCE)]


def json_messages(
    conversation: Conversation, evidence: list[Evidence], schema: dict[str, Any], answer: str | None = None
) -> list[ChatMessage]:
    """The JSON step; `answer`: the answer already found in the sources without the model, if any."""
    schema_text = json.dumps(schema, separators=(",", ":"))
    step = f"JSON schema of the answer: {schema_text}\n{FILL_JSON}"
    if answer is not None:
        step += f"\n{THE_ANSWER_IS.format(answer)}"
    return with_step(sources_turns(conversation, evidence), step)


def next_search_messages(conversation: Conversation, evidence: list[Evidence]) -> list[ChatMessage]:
    return with_step(sources_turns(conversation, evidence), NEXT_SEARCH)
