"""Build the basis from the evidence, never from the model's say-so.

Each part of the answer is matched against the evidence; its citations are the
pieces that support it, quoted verbatim, and its confidence follows from how well
and how independently they support it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from deepcite.research.basis import Citation, Confidence, FieldBasis
from deepcite.research.evidence import Evidence, verbatim
from deepcite.research.ranking import best_sentences
from deepcite.research.reader import YES_NO, Reading, locate, options_offered
from deepcite.research.text import content_words
from deepcite.research.verify import MIN_SUPPORT, support_score
from deepcite.research.writer import Claim

COVERED_FULLY = 0.9
COVERED_WELL = 0.8
COVERED_PARTLY = 0.5
# Encoder cosine of the question and the passage that states the answer.
RELATED = 0.5
CLOSELY_RELATED = 0.65
SHORT_ANSWER_WORDS = 4
_MAX_CITATIONS = 3
COMPARED_PAGES = 2  # a yes/no question compares two things, each on its page


def question_coverage(question: str, texts: Iterable[str]) -> float:
    """Share of the question's content words that the texts mention at all."""
    words = set(content_words(question))
    if not words:
        return 1.0
    found = set(content_words(" ".join(texts)))
    return len(words & found) / len(words)


def evidence_coverage(question: str, evidence: list[Evidence]) -> float:
    """Share of the question's content words that the pages read explain (titles included)."""
    return question_coverage(question, (f"{e.title} {e.text}" for e in evidence))


def rate(
    answer: str | None,
    sources: int,
    coverage: float,
    relevance: float,
    *,
    related: bool = True,
    decided: bool = False,
    choice: bool = False,
) -> Confidence:
    """Confidence from the evidence alone.

    `answer`: the short answer as found in the sources (None: only the model said it);
    `sources`: independent pages that state it; `coverage`: the share of the question's
    words that the evidence read explains; `relevance`: the sentence encoder's cosine of
    the question and the best passage stating the answer; `related`: some passage read is
    close to the question (cosine 0.5 or more); `decided`: the answer was worked
    out from the sources (years or counts compared, each side read on its own page), not
    read by the model from the question whole; `choice`: the question offers the options.

    Calibrated on the tune halves of SQuAD (60, lite) and HotpotQA (120, base), short-answer
    F1 by level: worked-out answers scored 0.95 (30); the model's pick between two offered
    options 0.5, a coin the evidence cannot show; so did long spans, mostly only partly the
    answer. A passage unlike the question is where wrong answers come from (SQuAD: F1 0.29)
    unless other pages back it or the evidence explains the whole question: the second hop of
    a multi-hop answer is unlike the question by nature (HotpotQA: 0.56 when rated low so).
    Words alone do not explain it: "What is the currency of Switzerland?" has each of its words
    in a corpus about other things, whose passages are all unlike it.
    """
    if decided:
        return "high" if coverage >= COVERED_WELL else "medium"
    if answer is None or coverage < COVERED_PARTLY:
        return "low"
    if answer.lower() in YES_NO:
        return "medium"
    explained = coverage >= COVERED_FULLY and related
    if relevance < RELATED and sources < 2 and not explained:
        return "low"
    if choice or len(answer.split()) > SHORT_ANSWER_WORDS:
        return "medium"
    if coverage >= COVERED_WELL and (relevance >= CLOSELY_RELATED or sources >= 2):
        return "high"
    return "medium"


@dataclasses.dataclass(frozen=True)
class _Fit:
    """How the evidence read fits the question, the same for every part of one answer (see `rate`)."""

    coverage: float
    related: bool
    choice: bool

    @classmethod
    def of(cls, question: str, evidence: list[Evidence]) -> _Fit:
        related = any(e.relevance >= RELATED for e in evidence)
        return cls(evidence_coverage(question, evidence), related, options_offered(question) is not None)

    def rate(self, answer: str | None, sources: int, relevance: float, *, decided: bool = False) -> Confidence:
        return rate(
            answer, sources, self.coverage, relevance, related=self.related, decided=decided, choice=self.choice
        )


def _excerpt(claim: str, evidence: Evidence) -> str | None:
    spans = best_sentences(claim, evidence.text, 1)
    s, e = spans[0] if spans else (0, len(evidence.text))
    excerpt = evidence.text[s:e].strip()
    return excerpt if verbatim(excerpt, evidence.page_text) else None


def _citations(pairs: list[tuple[str, Evidence]]) -> list[Citation]:
    """Group excerpts by page, in first-cited order, each excerpt once."""
    by_url: dict[str, Citation] = {}
    for claim, evidence in pairs:
        excerpt = _excerpt(claim, evidence)
        if excerpt is None:
            continue
        citation = by_url.setdefault(evidence.url, Citation(evidence.url, evidence.title, []))
        if excerpt not in citation.excerpts:
            citation.excerpts.append(excerpt)
    return list(by_url.values())


def content_basis(
    claims: list[Claim], question: str, evidence: list[Evidence], reading: Reading | None
) -> FieldBasis:
    """The basis of a text answer: one entry, field `content`."""
    if not claims or reading is None or reading.answer is None:
        read = f" of the {len({e.source_key for e in evidence})} pages read" if evidence else ""
        return FieldBasis("content", [], f"No source{read} states an answer to the question.", "low")
    cited = [e for c in claims for e in c.cited]
    sources = len({e.source_key for e in reading.sources})
    citations = _citations([(c.text, e) for c in claims for e in c.cited])
    fit = _Fit.of(question, evidence)
    relevance = max((e.relevance for e in reading.sources), default=0.0)
    confidence = fit.rate(reading.answer, sources, relevance, decided=reading.decided)
    pages = len({e.source_key for e in cited})
    found = (
        f"was worked out from the sources, not read whole: {reading.worked_out}"
        if reading.decided
        else f"is stated in {sources} independent source{'s' if sources != 1 else ''}"
    )
    reasoning = (
        f"The answer ({reading.answer!r}) {found}; the answer cites {pages} page{'s' if pages != 1 else ''}; "
        f"the pages read cover {fit.coverage:.0%} of the question's terms. Every sentence was checked against "
        "the cited text."
    )
    return FieldBasis("content", citations, reasoning, confidence)


def value_basis(
    field: str, value: Any, question: str, evidence: list[Evidence], fit: _Fit, worked: Reading | None = None
) -> FieldBasis:
    """The basis of one JSON value: the evidence that states it, or the pages it was worked out
    from (`worked`: the reading that decided it, see `rate`)."""
    text = _value_text(value)
    if worked is not None and text.strip():
        # The pages compared back it, though none need spell it as the question does ("Ibn
        # Arabi" is "ibnʿArabī" on its page).
        citations = _citations([(question, e) for e in worked.sources])
        relevance = max((e.relevance for e in worked.sources), default=0.0)
        confidence = fit.rate(text, len(worked.sources), relevance, decided=True)
        reasoning = (
            f"The value was worked out from the sources, not read whole: {worked.worked_out}; "
            f"the pages read cover {fit.coverage:.0%} of the question's terms."
        )
        return FieldBasis(field, citations, reasoning, confidence)
    if isinstance(value, bool) or text.strip().lower() in YES_NO:
        answer = text.strip().lower() or ("yes" if value else "no")
        return _yes_no_basis(field, answer, question, evidence, fit)
    if not text.strip():
        return FieldBasis(field, [], "The field is empty; there is nothing to support.", "low")
    scored = sorted(((e, support_score(text, e.text)) for e in evidence), key=lambda p: -p[1])
    backed = [(e, s) for e, s in scored if s >= MIN_SUPPORT][:_MAX_CITATIONS]
    if not backed:
        return FieldBasis(field, [], "No source found states this value; treat it as unverified.", "low")
    sources = len({e.source_key for e, _ in backed})
    citations = _citations([(text, e) for e, _ in backed])
    relevance = max(e.relevance for e, _ in backed)
    confidence = fit.rate(locate(text, evidence).answer, sources, relevance)
    reasoning = (
        f"The value is found in {sources} independent source{'s' if sources != 1 else ''} "
        f"(best match {backed[0][1]:.0%} of its words); the pages read cover {fit.coverage:.0%} of the question's terms."
    )
    return FieldBasis(field, citations, reasoning, confidence)


def _yes_no_basis(field: str, answer: str, question: str, evidence: list[Evidence], fit: _Fit) -> FieldBasis:
    """A yes or no states no span of the sources: it compares what the pages most like the question say."""
    best: dict[str, Evidence] = {}
    for e in sorted(evidence, key=lambda e: -e.relevance):
        best.setdefault(e.source_key, e)
    compared = list(best.values())[:COMPARED_PAGES]
    if not compared:
        return FieldBasis(field, [], "No source was read; the answer is unverified.", "low")
    citations = _citations([(question, e) for e in compared])
    confidence = fit.rate(answer, len(compared), max(e.relevance for e in compared))
    reasoning = (
        f"A yes-or-no answer compares what the sources say: it rests on the {len(compared)} "
        f"page{'s' if len(compared) != 1 else ''} closest to the question; the pages read cover {fit.coverage:.0%} "
        "of the question's terms."
    )
    return FieldBasis(field, citations, reasoning, confidence)


def json_basis(value: Any, question: str, evidence: list[Evidence], worked: Reading | None = None) -> list[FieldBasis]:
    """One entry per top-level field, and one per array element as `field.N`. `worked`: the
    reading that decided the answer from the pages it compared (the other choice's page
    states its year, not the answer), when the answer is its value."""
    items = value.items() if isinstance(value, dict) else [("content", value)]
    fit = _Fit.of(question, evidence)
    basis: list[FieldBasis] = []
    for field, field_value in items:
        basis.append(value_basis(field, field_value, question, evidence, fit, worked))
        if isinstance(field_value, list):
            basis.extend(
                value_basis(f"{field}.{i}", element, question, evidence, fit)
                for i, element in enumerate(field_value)
            )
    return basis


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_value_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_value_text(v) for v in value)
    if value is None or isinstance(value, bool):
        return ""
    return str(value)
