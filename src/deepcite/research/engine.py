"""The research engine: gather evidence for a profile, write the answer, prove it.

It knows nothing of HTTP: it takes a `ResearchRequest` and yields `ResearchEvent`s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from deepcite.errors import ModelNotFoundError, StructuredOutputError
from deepcite.llm.base import ChatMessage, ChatModel, GenerationOptions
from deepcite.llm.structured import coerce_to_schema, complete_json
from deepcite.research.basis import FieldBasis
from deepcite.research.compare import read_compared
from deepcite.research.conversation import Conversation, read_conversation
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta
from deepcite.research.evidence import Evidence
from deepcite.research.gather import Findings, Researcher
from deepcite.research.grounding import content_basis, json_basis
from deepcite.research.links import names_title, title_names
from deepcite.research.planner import is_date
from deepcite.research.profiles import PROFILES, ResearchProfile
from deepcite.research.prompts import (
    SYSTEM_PROMPT,
    echoes_the_ask,
    in_a_sentence,
    json_messages,
    next_search_messages,
    not_a_number,
    not_an_answer,
    not_the_bridge,
    read_answer_messages,
    sentence_messages,
    side_messages,
)
from deepcite.research.reader import (
    NOT_FOUND,
    YES_NO,
    Reading,
    asks_for_number,
    beyond_the_question,
    clean_model_answer,
    in_evidence_words,
    is_choice,
    locate,
    options_offered,
    states_number,
)
from deepcite.research.request import ResearchRequest
from deepcite.research.sides import two_sides
from deepcite.research.text import normalize_answer
from deepcite.research.verify import check_claim
from deepcite.research.writer import AnswerWriter, Claim, model_sentence, opening_claims
from deepcite.search.policy import filtered_providers

# The sentence encoder's cosine of the question and the best evidence. On the tuning halves
# of SQuAD and of our out-of-corpus questions, below 0.35 the evidence was about something
# else for all but one question in 25; from 0.5 up it nearly always held the answer.
UNRELATED_BELOW = 0.35
CLEARLY_RELATED = 0.5
# Tokens of the short answer, and of the sentence that says it.
READ_TOKENS = 24
SENTENCE_TOKENS = 48
log = logging.getLogger(__name__)


class ResearchEngine:
    def __init__(self, researcher: Researcher, llm: ChatModel) -> None:
        self.researcher = researcher
        self.llm = llm
        self.models = list(PROFILES)
        if researcher.next_search is None:
            researcher.next_search = self._next_search

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
        # Source policy: the researcher searches only through providers that drop denied pages.
        providers = filtered_providers(self.researcher.providers, request.source_policy)
        researcher = dataclasses.replace(self.researcher, providers=providers)
        async for progress in researcher.gather(conversation, profile, findings):
            yield progress
        evidence = findings.evidence
        yield Progress("write", f"writing from {len(evidence)} excerpts of {len({e.url for e in evidence})} pages")
        if request.json_schema is not None:
            async for event in self._write_json(conversation, profile, evidence, request.json_schema, findings.leads):
                yield event
        else:
            async for event in self._write_text(conversation, profile, evidence, findings.leads, researcher):
                yield event

    async def _write_text(
        self,
        conversation: Conversation,
        profile: ResearchProfile,
        evidence: list[Evidence],
        leads: list[str],
        researcher: Researcher,
    ) -> AsyncIterator[ResearchEvent]:
        question = conversation.question
        writer = AnswerWriter(evidence, question, max_sentences=profile.answer_sentences)
        reading: Reading | None = None
        usage = _Usage()
        relevance = evidence_relevance(question, evidence)
        if relevance >= UNRELATED_BELOW:
            read = read_answer_messages(conversation, evidence, may_decline=relevance < CLEARLY_RELATED)
            reading, how = await self._read_apart(conversation, evidence, usage)
            if how:
                yield Progress("verify", how)
            if reading is not None:
                said = reading.model_said
            else:
                checked = await self._read_checked(conversation, evidence, leads, read, usage)
                for note in checked.notes:
                    yield Progress("verify", note)
                read, said, reading = checked.read, checked.said, checked.reading
        if reading is None or reading.answer is None:
            if reading is not None:
                yield Progress("verify", f"no answer in the sources (the model said: {reading.model_said.strip()[:80]!r})")
            text = abstention(question)
            yield TextDelta(text)
            yield Basis(text, [content_basis([], question, evidence, reading)], [])
            yield Done("stop", usage.prompt, usage.completion)
            return
        yield Progress("verify", f"the sources answer: {reading.answer}")
        sentence: Claim | None = None
        if profile.lead_sentence:
            said_sentence = await self._complete(sentence_messages(read, said), SENTENCE_TOKENS, usage)
            written = model_sentence(said_sentence)
            verdict = check_claim(written, question, evidence, answer=None if reading.yes_no else reading.answer)
            if verdict.ok:
                sentence = Claim(written, verdict.support)
            else:
                yield Progress("verify", f"the model's sentence was not sent: {verdict.reason}")
        for claim in opening_claims(reading, sentence):
            yield TextDelta(writer.emit(claim))
        if names_a_page(reading.answer) and not any(title_names(e.title, reading.answer) for e in evidence):
            # After the answer is sent: the page the answer titles says what it is.
            named_in = reading.sources[0].text if reading.sources else ""
            own = await researcher.page_about(reading.answer, question, named_in, len(evidence) + 1)
            if own is not None:
                writer.evidence = [*evidence, own]
        for quote in writer.supporting_quotes(reading):
            yield TextDelta(writer.emit(quote))
        yield Progress("verify", f"{len(writer.claims)} sentences checked against the sources")
        basis = [content_basis(writer.claims, question, evidence, reading)]
        yield Basis(writer.content, basis, writer.annotations)
        yield Done("stop", usage.prompt, usage.completion)

    async def _read_checked(
        self,
        conversation: Conversation,
        evidence: list[Evidence],
        leads: list[str],
        read: list[ChatMessage],
        usage: _Usage,
        first: str | None = None,
    ) -> _CheckedReading:
        """The model's reading of the answer (`first`, when already filled), read again while
        it does not answer: only the question's words, no number where one is asked for, or
        the link that led to the answer."""
        question = conversation.question
        notes = []
        said = first if first is not None else await self._complete(read, READ_TOKENS, usage)
        reading = locate(said, evidence, question)
        if reading.answer is None and (reading.restated or echoes_the_ask(said)):
            notes.append(f"{clean_model_answer(said)!r} does not answer the question; reading again")
            read = not_an_answer(read, said)
            said = await self._complete(read, READ_TOKENS, usage)
            reading = locate(said, evidence, question)
        if reading.answer is None and NOT_FOUND not in said.upper():
            stated = await self._complete(in_a_sentence(conversation, evidence), SENTENCE_TOKENS, usage)
            located = locate(beyond_the_question(stated, question), evidence, question)
            notes.append(f"asked for a sentence: {stated.strip()[:80]!r} -> {located.answer!r}")
            if located.answer is not None:
                said, reading = located.answer, dataclasses.replace(located, model_said=stated)
        if reading.answer is not None and _not_the_number(reading.answer, question):
            notes.append(f"{reading.answer} is not the number the question asks for; reading again")
            recount = not_a_number(read, said)
            said_again = await self._complete(recount, READ_TOKENS, usage)
            counted = locate(said_again, evidence, question)
            # Kept only when it is a number: else the first reading stands.
            if counted.answer is not None and states_number(counted.answer):
                read, said, reading = recount, said_again, counted
        if reading.answer is not None and is_bridge(reading.answer, question, leads, evidence):
            # A small model answers the first hop ("who founded it?") when asked the second
            # ("where was its founder born?"): the bridge it led to is not the answer.
            notes.append(f"{reading.answer} is the link, not the answer; reading again")
            again = not_the_bridge(read, reading.answer)
            said_again = await self._complete(again, READ_TOKENS, usage)
            beyond = locate(said_again, evidence, question)
            # Read again to no answer, the link was the answer: "Bill Clinton" for "under
            # which former Governor of Arkansas?", where the second reading said "Arkansas".
            if beyond.answer is not None:
                read, said, reading = again, said_again, beyond
            else:
                notes.append(f"read again: {clean_model_answer(said_again)!r} answers nothing; {reading.answer} stands")
        return _CheckedReading(reading, read, said, notes)

    async def _read_apart(
        self, conversation: Conversation, evidence: list[Evidence], usage: _Usage
    ) -> tuple[Reading | None, str]:
        """The answer read without asking the model the whole question, and how it was found
        (empty: it was not tried). Which of two years is earlier, or of two counts larger, is
        arithmetic; a question about two things is read one thing at a time (see `sides`)."""
        question = conversation.question
        reading = read_compared(question, evidence)
        if reading is not None:
            return reading, f"{reading.worked_out}: {reading.answer}"
        sides = two_sides(question, evidence)
        if sides is None:
            return None, ""
        # Each side is read from its own page alone: with the other pages in view, the small
        # model still says "yes" (La Cava an actor, for the actors he directed).
        replies = [
            await self._complete(side_messages(conversation, sides, side), READ_TOKENS, usage)
            for side in (0, 1)
        ]
        reading = sides.reading(replies)
        undecided = f"each side read on its own page, undecided: {sides.summary(replies)}"
        return reading, reading.worked_out if reading is not None else undecided

    async def _complete(self, messages: list[ChatMessage], max_tokens: int, usage: _Usage) -> str:
        """The model's whole reply to `messages`, cut at the first line break."""
        text = ""
        options = GenerationOptions(max_tokens=max_tokens, stop=("\n",))
        # Closing the stream stops generation when the client left.
        async with aclosing(self.llm.stream(messages, options)) as pieces:
            async for piece in pieces:
                text += piece
        # Tokenizing the evidence again takes tens of milliseconds: not on the event loop.
        usage.prompt += await asyncio.to_thread(lambda: sum(self.llm.count_tokens(m.content) for m in messages))
        usage.completion += self.llm.count_tokens(text)
        return text

    async def _write_json(
        self,
        conversation: Conversation,
        profile: ResearchProfile,
        evidence: list[Evidence],
        schema: dict[str, Any],
        leads: list[str],
    ) -> AsyncIterator[ResearchEvent]:
        question = conversation.question
        value: Any = {}
        usage = _Usage()
        messages = json_messages(conversation, evidence, schema)
        worked: Reading | None = None  # the reading that decided the answer without the model's fill
        relevance = evidence_relevance(question, evidence)
        if relevance >= UNRELATED_BELOW:
            # A choice by date or count, or a verdict read per side, is the answer: it is told
            # to the model, or is the whole answer when the schema asks for nothing else (told,
            # the model still wrote "Terry Richardson is older than Annie Morton").
            reading, _ = await self._read_apart(conversation, evidence, usage)
            messages = json_messages(conversation, evidence, schema, reading.answer if reading is not None else None)
            field = _sole_string_field(schema)
            if reading is not None and reading.answer is not None and field is not None:
                value, messages = {field: reading.answer}, []  # no fill: no prompt to count
                worked = reading
            else:
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
            filled = value.get(field) if field is not None and isinstance(value, dict) else None
            if reading is None and isinstance(filled, str) and filled and self._doubtful(filled, question, leads, evidence):
                # The fill's answer fails a check the text reading makes: read the way text
                # is read, and answer with that when it passes ("Carrefour" for "how many?").
                yield Progress("verify", f"{filled!r} does not answer the question; reading it as for text")
                read = read_answer_messages(conversation, evidence, may_decline=relevance < CLEARLY_RELATED)
                checked = (await self._read_checked(conversation, evidence, leads, read, usage, filled)).reading
                if checked.answer is not None and not self._doubtful(checked.answer, question, leads, evidence):
                    yield Progress("verify", f"the sources answer: {checked.answer}")
                    value[field] = checked.answer
        # Values are given in the sources' own words where the model paraphrased them.
        value = coerce_to_schema(in_evidence_words(value, evidence), schema)
        value = _in_schema_order(value, schema)
        content = json.dumps(value, ensure_ascii=False)
        # JSON is sent whole, once it validates: a client never sees a half-repaired object.
        yield TextDelta(content)
        basis: list[FieldBasis] = json_basis(value, question, evidence, worked)
        yield Basis(content, basis, [])
        prompt = await asyncio.to_thread(lambda: sum(self.llm.count_tokens(m.content) for m in messages))
        yield Done("stop", usage.prompt + prompt, usage.completion + self.llm.count_tokens(content))

    @staticmethod
    def _doubtful(answer: str, question: str, leads: list[str], evidence: list[Evidence]) -> bool:
        """Whether a short answer fails a check the text reading makes: only the question's own
        words, no number where one is asked for, or the link that led to the answer."""
        return (
            locate(answer, evidence, question).restated
            or _not_the_number(answer, question)
            or is_bridge(answer, question, leads, evidence)
        )

    async def _next_search(self, conversation: Conversation, evidence: list[Evidence]) -> str | None:
        """What the model says to look up next; None when it finds the question answered."""
        said = clean_model_answer(await self._complete(next_search_messages(conversation, evidence), 16, _Usage()))
        log.debug("next search, the model says: %r", said)
        if not said or said.upper().startswith(("DONE", NOT_FOUND)) or len(said) > 80:
            return None
        return said


@dataclasses.dataclass
class _CheckedReading:
    reading: Reading
    read: list[ChatMessage]  # the reading conversation as it ended
    said: str  # what the model last said in it
    notes: list[str]  # why it was read again, for progress


@dataclasses.dataclass
class _Usage:
    prompt: int = 0
    completion: int = 0


def names_a_page(answer: str) -> bool:
    """Whether an answer may title a page of its own: a name, not yes/no, a number or a date."""
    return answer[:1].isupper() and answer.lower() not in YES_NO and not is_date(answer)


def evidence_relevance(question: str, evidence: list[Evidence]) -> float:
    """How closely the evidence is about the question: the encoder's best cosine, or clearly
    related when it holds the page of each choice the question offers. "Who was born first,
    Am Rong or Ava DuVernay?" is unlike any page's words, yet both its pages were read."""
    best = max((e.relevance for e in evidence), default=0.0)
    offered = options_offered(question) or ()
    if offered and all(any(names_title(name, e.title) for e in evidence) for name in offered):
        return max(best, CLEARLY_RELATED)
    return best


def is_bridge(answer: str, question: str, leads: list[str], evidence: list[Evidence]) -> bool:
    """Whether `answer` names one of the entities followed to reach the evidence, and the
    evidence holds that entity's own page: then the answer may be in that page instead.

    A lead's name is often the answer itself ("Continental Army", named by the page that
    answers); reading again then only costs a call. An answer that opens with a lead of two
    words or more names it too ("Tata Consultancy Services Limited (TCS"). One of the choices
    the question offers is what it asks for, never a link: read again, "Langston Hughes or
    Ian McEwan" flipped to the other.
    """
    said = normalize_answer(answer)
    if not said or is_choice(answer, question):
        return False
    for lead in leads:
        name = normalize_answer(lead)
        opens = len(name.split()) >= 2 and f"{said} ".startswith(f"{name} ")
        if (said == name or said in name or opens) and any(
            title_names(e.title, answer) or title_names(e.title, lead) for e in evidence
        ):
            return True
    return False


def abstention(question: str) -> str:
    """What is said when the evidence does not answer: plainly that, never a stray quote."""
    return f"The sources I found do not answer this question: {' '.join(question.split())}"


def _not_the_number(answer: str, question: str) -> bool:
    """Whether the question asks how many, what year or when, and `answer` holds no number."""
    return asks_for_number(question) and not states_number(answer)


def _sole_string_field(schema: dict[str, Any]) -> str | None:
    """The name of the schema's only property when it is a string ({"answer": string}): the
    short answer itself, which the text reading's checks apply to."""
    properties = schema.get("properties", {})
    if schema.get("type") != "object" or len(properties) != 1:
        return None
    (name, spec), = properties.items()
    return name if isinstance(spec, dict) and spec.get("type") == "string" else None


def _in_schema_order(value: Any, schema: dict[str, Any]) -> Any:
    """Top-level fields in the order the schema lists them, so the basis follows it too."""
    order = list(schema.get("properties", {}))
    if not isinstance(value, dict) or not order:
        return value
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(value.items(), key=lambda item: rank.get(item[0], len(rank))))

