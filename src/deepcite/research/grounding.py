"""Build the basis from the evidence, never from the model's say-so.

Each part of the answer is matched against the evidence; its citations are the
pieces that support it, quoted verbatim, and its confidence follows from how well
and how independently they support it.
"""

from __future__ import annotations

from typing import Any

from deepcite.research.basis import Citation, Confidence, FieldBasis
from deepcite.research.evidence import Evidence, verbatim
from deepcite.research.ranking import best_sentences, support_score
from deepcite.research.text import content_words
from deepcite.research.writer import MIN_SUPPORT, Claim

STRONG_SUPPORT = 0.75
_MAX_CITATIONS = 3


def question_coverage(question: str, evidence: list[Evidence]) -> float:
    """Share of the question's content words that the evidence mentions at all."""
    words = set(content_words(question))
    if not words:
        return 1.0
    found = set(content_words(" ".join(e.text for e in evidence)))
    return len(words & found) / len(words)


def rate(supports: list[float], sources: int, coverage: float) -> Confidence:
    """high: strongly supported by several sources that address the question; low: weak or off-topic."""
    if not supports:
        return "low"
    strong = min(supports) >= STRONG_SUPPORT
    if strong and sources >= 2 and coverage >= 0.6:
        return "high"
    if (strong or sources >= 2) and coverage >= 0.4:
        return "medium"
    return "low"


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


def content_basis(claims: list[Claim], question: str, evidence: list[Evidence]) -> FieldBasis:
    """The basis of a text answer: one entry, field `content`."""
    if not claims:
        return FieldBasis("content", [], "No source found addresses the question.", "low")
    cited = [e for c in claims for e, _ in c.support[:_MAX_CITATIONS]]
    sources = len({e.source_key for e in cited})
    coverage = question_coverage(question, cited)
    extractive = any(c.extractive for c in claims)
    confidence = rate([c.support[0][1] for c in claims], sources, coverage)
    citations = _citations([(c.text, e) for c in claims for e, _ in c.support[:_MAX_CITATIONS]])
    return FieldBasis("content", citations, _reasoning(len(claims), sources, coverage, extractive), confidence)


def _reasoning(claims: int, sources: int, coverage: float, extractive: bool) -> str:
    what = (
        "The answer quotes the most relevant source verbatim"
        + (" and each further sentence is found in the cited text." if claims > 1 else ".")
        if extractive
        else f"Each of the {claims} sentence{'s' if claims != 1 else ''} of the answer is found in the cited text."
    )
    agree = f"{sources} independent source{'s' if sources != 1 else ''} support{'s' if sources == 1 else ''} it"
    return f"{what} {agree}; the sources cover {coverage:.0%} of the question's terms."


def value_basis(field: str, value: Any, question: str, evidence: list[Evidence]) -> FieldBasis:
    """The basis of one JSON value: the evidence that states it."""
    text = _value_text(value)
    if not text.strip():
        return FieldBasis(field, [], "The field is empty; there is nothing to support.", "low")
    scored = sorted(((e, support_score(text, e.text)) for e in evidence), key=lambda p: -p[1])
    backed = [(e, s) for e, s in scored if s >= MIN_SUPPORT][:_MAX_CITATIONS]
    if not backed:
        return FieldBasis(field, [], "No source found states this value; treat it as unverified.", "low")
    sources = len({e.source_key for e, _ in backed})
    coverage = question_coverage(question, [e for e, _ in backed])
    confidence = rate([backed[0][1]], sources, coverage)
    reasoning = (
        f"The value is found in {sources} independent source{'s' if sources != 1 else ''} "
        f"(best match {backed[0][1]:.0%} of its words)."
    )
    return FieldBasis(field, _citations([(text, e) for e, _ in backed]), reasoning, confidence)


def json_basis(value: Any, question: str, evidence: list[Evidence]) -> list[FieldBasis]:
    """One entry per top-level field, and one per array element as `field.N`."""
    items = value.items() if isinstance(value, dict) else [("content", value)]
    basis: list[FieldBasis] = []
    for field, field_value in items:
        basis.append(value_basis(field, field_value, question, evidence))
        if isinstance(field_value, list):
            basis.extend(
                value_basis(f"{field}.{i}", element, question, evidence)
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
