"""Check what the model wrote against the evidence before anything is sent.

Counting shared words is not enough: a sentence that restates the question, a name the
sources never mention, or words of the evidence recombined into another claim all share
many words with it. So a claim must
- say something the question does not (its new words are the claim),
- name nothing (names, numbers, dates) that neither the question nor the sources name,
- find its new key terms together in one passage of one source (or two linked sources
  for a multi-hop claim), not scattered over several,
- and, when the short answer is known, state that answer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from deepcite.research.evidence import Evidence
from deepcite.research.text import content_words, normalize_name, split_sentences

# Numbers carry the facts that most often go wrong (dates, scores, amounts).
NUMBER_WEIGHT = 2.0
# Credit for a claim word found only in another form ("earned" for "earn").
OTHER_FORM_CREDIT = 0.7
MIN_ROOT = 4
SHARED_START = 6
# Share of a claim's new words one window of evidence must hold.
MIN_SUPPORT = 0.6
WINDOW_SENTENCES = 3

# Words that refer to the answer without being one: "the team that won ..." names no team.
_GENERIC = frozenset({
    "answer", "question", "source", "team", "person", "people", "thing", "place", "year", "time", "one", "name",
    "group", "company", "city", "country", "called", "known", "named",
})
_NAME = re.compile(r"(?<![\w'’])[A-Z][\w'’.-]*")
# An ordinal is one word: "19th" is what the sources name, not "19".
_NUMBER = re.compile(r"\d[\d,.]*(?:(?:st|nd|rd|th)\b)?")
_MONTHS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
})


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a claim may be sent, why not when it may not, and what backs it, best first."""

    ok: bool
    reason: str
    support: list[tuple[Evidence, float]]


def key_terms(text: str) -> set[str]:
    """Names, numbers and dates of `text`, as the content words that carry them.

    A capitalised word counts as a name except where capitals are the sentence's own
    (its first word), so "The Broncos won" yields {"bronco"}.
    """
    terms: set[str] = set()
    for start, end in split_sentences(text) or [(0, len(text))]:
        sentence = text[start:end]
        first = True
        for match in _NAME.finditer(sentence):
            words = content_words(match.group())
            if not first or sentence[: match.start()].strip(" \"'“‘(["):
                terms.update(words)
            first = False
        terms.update(w for w in content_words(sentence) if w in _MONTHS)
        for number in _NUMBER.findall(sentence):
            terms.update(content_words(number))
    return terms


def word_support(claim_words: set[str], evidence_words: set[str]) -> float:
    """Share of `claim_words` found in `evidence_words`, numbers counting double and
    other forms of a word ("representing" for "represented") in part."""
    if not claim_words:
        return 0.0
    total = found = 0.0
    for word in claim_words:
        weight = NUMBER_WEIGHT if any(ch.isdigit() for ch in word) else 1.0
        total += weight
        if word in evidence_words:
            found += weight
        elif not word.isdigit() and any(same_root(word, other) for other in evidence_words):
            found += weight * OTHER_FORM_CREDIT
    return found / total


def support_score(claim: str, evidence: str) -> float:
    """How much of `claim`'s content `evidence` contains, from 0 (none) to 1 (all)."""
    return word_support(set(content_words(claim)), set(content_words(evidence)))


def same_root(a: str, b: str) -> bool:
    """Whether two words look like forms of one word: one starts the other, or a long shared start."""
    short, long = sorted((a, b), key=len)
    if len(short) >= MIN_ROOT and long.startswith(short):
        return True
    return len(short) > SHARED_START and long[:SHARED_START] == short[:SHARED_START]


def contains_answer(text: str, answer: str) -> bool:
    """Whether `text` states `answer`, compared as names are (`normalize_name`)."""
    needle = normalize_name(answer)
    return bool(needle) and f" {needle} " in f" {normalize_name(text)} "


def windows(evidence: Evidence) -> list[set[str]]:
    """The content words of each run of `WINDOW_SENTENCES` sentences of one excerpt."""
    spans = split_sentences(evidence.text) or [(0, len(evidence.text))]
    words = [set(content_words(evidence.text[s:e])) for s, e in spans]
    title = set(content_words(evidence.title))
    size = min(WINDOW_SENTENCES, len(words))
    return [title.union(*words[i : i + size]) for i in range(len(words) - size + 1)]


def check_claim(
    claim: str, question: str, evidence: Sequence[Evidence], *, answer: str | None = None
) -> Verdict:
    """May `claim` be sent as part of the answer to `question`? Backed by which evidence?"""
    question_words = set(content_words(question))
    new_words = set(content_words(claim)) - question_words
    if not new_words - _GENERIC:
        return Verdict(False, "it only restates the question", [])
    if answer is not None and not contains_answer(claim, answer):
        return Verdict(False, f"it does not state the answer found ({answer!r})", [])
    all_evidence = set(content_words(" ".join(f"{e.title} {e.text}" for e in evidence)))
    invented = sorted(t for t in key_terms(claim) - question_words if t not in all_evidence)
    if invented:
        return Verdict(False, "it names what no source names: " + ", ".join(invented), [])
    new_keys = key_terms(claim) - question_words
    scored = []
    for e in evidence:
        best = max(windows(e), key=lambda w: (len(new_keys & w), word_support(new_words, w)))
        scored.append((e, best, word_support(new_words, best)))
    scored.sort(key=lambda item: -item[2])
    # The claim's own facts must sit together in one source, or in two: a multi-hop claim
    # joins the page of the bridge entity with the page that holds the answer.
    for i, (first, words, score) in enumerate(scored):
        if new_keys <= words and score >= MIN_SUPPORT:
            return Verdict(True, "", [(first, score), *_also(scored, i)])
        for second, more, _ in scored[i + 1 :]:
            joined = words | more
            if (new_keys <= joined and word_support(new_words, joined) >= MIN_SUPPORT
                    and _linked(first, second, set(content_words(claim)))):
                return Verdict(True, "", [(first, score), (second, word_support(new_words, more))])
    return Verdict(False, "no source states it", [])


def _also(scored: list[tuple[Evidence, set[str], float]], chosen: int) -> list[tuple[Evidence, float]]:
    """Other sources that state the claim as well: agreement, counted for confidence."""
    return [(e, s) for k, (e, w, s) in enumerate(scored) if k != chosen and s >= MIN_SUPPORT]


def _linked(a: Evidence, b: Evidence, claim: set[str]) -> bool:
    """Two sources are linked for a claim when one names the other's subject (its title)
    and the claim names it too: the bridge entity joins the two halves of the claim."""
    for one, other in ((a, b), (b, a)):
        title = set(content_words(one.title))
        if title and title <= set(content_words(other.text)) and title <= claim:
            return True
    return False
