"""The research engine: gather evidence for a profile, write the answer, prove it.

It knows nothing of HTTP: it takes a `ResearchRequest` and yields `ResearchEvent`s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

from deepcite.errors import ModelNotFoundError, StructuredOutputError
from deepcite.llm.base import ChatModel, GenerationOptions
from deepcite.llm.structured import coerce_to_schema, complete_json
from deepcite.research.basis import FieldBasis
from deepcite.research.conversation import Conversation, read_conversation
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta
from deepcite.research.evidence import Evidence
from deepcite.research.gather import Findings, Researcher
from deepcite.research.grounding import content_basis, json_basis
from deepcite.research.profiles import PROFILES, ResearchProfile
from deepcite.research.prompts import SYSTEM_PROMPT, answer_messages
from deepcite.research.request import ResearchRequest
from deepcite.research.writer import AnswerWriter

NOTHING_FOUND = "I found no source that addresses this question."
log = logging.getLogger(__name__)


class ResearchEngine:
    def __init__(self, researcher: Researcher, llm: ChatModel, *, quote_first: bool = False) -> None:
        self.researcher = researcher
        self.llm = llm
        self.models = list(PROFILES)
        # A small local model answers badly on its own: lead with the best verbatim
        # sentence of the evidence (sent at once), and let the model add what it can prove.
        self.quote_first = quote_first

    @staticmethod
    def warm_up_prompt() -> str:
        """The fixed prefix worth keeping in the model's cache."""
        return SYSTEM_PROMPT

    async def run(self, request: ResearchRequest) -> AsyncIterator[ResearchEvent]:
        profile = PROFILES.get(request.model)
        if profile is None:
            raise ModelNotFoundError(f"The model `{request.model}` does not exist", param="model")
        conversation = read_conversation(request.messages)
        findings = Findings()
        async for progress in self.researcher.gather(conversation, profile, findings):
            yield progress
        evidence = findings.evidence
        yield Progress("write", f"writing from {len(evidence)} excerpts of {len({e.url for e in evidence})} pages")
        if request.json_schema is not None:
            async for event in self._write_json(conversation, profile, evidence, request.json_schema):
                yield event
        else:
            async for event in self._write_text(conversation, profile, evidence):
                yield event

    async def _write_text(
        self, conversation: Conversation, profile: ResearchProfile, evidence: list[Evidence]
    ) -> AsyncIterator[ResearchEvent]:
        if not evidence:
            yield TextDelta(NOTHING_FOUND)
            yield Basis(NOTHING_FOUND, [content_basis([], conversation.question, [])], [])
            yield Done("stop", 0, 0)
            return
        messages = answer_messages(conversation, evidence)
        writer = AnswerWriter(evidence, conversation.question, max_sentences=profile.answer_sentences)
        if self.quote_first:
            yield TextDelta(writer.quote_best())
        generated = ""
        finish: Literal["stop", "length"] = "stop"
        options = GenerationOptions(max_tokens=profile.answer_tokens)
        # Closing the stream stops generation when we stop early or the client left.
        async with aclosing(self.llm.stream(messages, options)) as pieces:
            async for piece in pieces:
                generated += piece
                for delta in writer.feed(piece):
                    yield TextDelta(delta)
                if writer.finished:
                    break
            else:
                if self.llm.count_tokens(generated) >= profile.answer_tokens:
                    finish = "length"
        for delta in writer.finish():
            yield TextDelta(delta)
        checked = f"{len(writer.claims)} sentences checked against the sources, {writer.dropped} unsupported dropped"
        yield Progress("verify", checked)
        basis = [content_basis(writer.claims, conversation.question, evidence)]
        yield Basis(writer.content, basis, writer.annotations)
        yield Done(finish, self._prompt_tokens(messages), self.llm.count_tokens(generated))

    async def _write_json(
        self,
        conversation: Conversation,
        profile: ResearchProfile,
        evidence: list[Evidence],
        schema: dict[str, Any],
    ) -> AsyncIterator[ResearchEvent]:
        messages = answer_messages(conversation, evidence, schema)
        value: Any = {}
        if evidence:
            try:
                # One retry at most: output is grammar-bound for the embedded model, and a small
                # model that loops would otherwise spend the whole budget three times.
                value = await complete_json(
                    self.llm, messages, schema, max_tokens=profile.answer_tokens * 2, retries=1
                )
            except StructuredOutputError as exc:
                # The contract is valid JSON whatever the model does: an empty answer whose
                # basis says every field is unsupported is more useful than a 500.
                log.warning("no usable JSON from the model, answering empty: %s", exc.message)
        value = coerce_to_schema(value, schema)
        value = _in_schema_order(value, schema)
        content = json.dumps(value, ensure_ascii=False)
        # JSON is sent whole, once it validates: a client never sees a half-repaired object.
        yield TextDelta(content)
        basis: list[FieldBasis] = json_basis(value, conversation.question, evidence)
        yield Basis(content, basis, [])
        yield Done("stop", self._prompt_tokens(messages), self.llm.count_tokens(content))

    def _prompt_tokens(self, messages: list[Any]) -> int:
        return sum(self.llm.count_tokens(m.content) for m in messages)


def _in_schema_order(value: Any, schema: dict[str, Any]) -> Any:
    """Top-level fields in the order the schema lists them, so the basis follows it too."""
    order = list(schema.get("properties", {}))
    if not isinstance(value, dict) or not order:
        return value
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(value.items(), key=lambda item: rank.get(item[0], len(rank))))

