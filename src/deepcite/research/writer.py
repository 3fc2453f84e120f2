"""Turn the model's token stream into checked, cited sentences.

Text is released a sentence at a time: each sentence is scored against every piece
of evidence, sent with the markers of the evidence that supports it, and dropped
when nothing supports it. Markers the model wrote itself are removed first; the
engine, not the model, decides what a sentence cites.
"""

from __future__ import annotations

import dataclasses
import re

from deepcite.research.basis import UrlCitation
from deepcite.research.evidence import Evidence
from deepcite.research.ranking import best_sentences, support_score
from deepcite.research.text import normalize_answer, split_sentences

MIN_SUPPORT = 0.5  # share of a sentence's content words found in one piece of evidence
MAX_MARKERS = 2
_MODEL_MARKER = re.compile(r"\s*\[\s*\d+(?:\s*[,;-]\s*\d+)*\s*\]")
# "The answer to this question is: ..." says nothing; only what follows is a claim.
_PREAMBLE = re.compile(r"^(?:A:\s*)?(?:the\s+)?answer(?:\s+to\s+(?:this|the)\s+question)?\s+is\s*:\s*", re.I)
_MIN_CHARS = 3


@dataclasses.dataclass(frozen=True)
class Claim:
    """One sentence of the answer and the evidence that supports it, best first."""

    text: str
    support: list[tuple[Evidence, float]]
    extractive: bool = False


@dataclasses.dataclass
class AnswerWriter:
    evidence: list[Evidence]
    question: str
    max_sentences: int = 4
    content: str = ""
    claims: list[Claim] = dataclasses.field(default_factory=list)
    annotations: list[UrlCitation] = dataclasses.field(default_factory=list)
    dropped: int = 0
    finished: bool = False  # the model repeats itself or wrote enough: stop generating
    _buffer: str = ""
    _seen: set[str] = dataclasses.field(default_factory=set)

    def feed(self, piece: str) -> list[str]:
        """Take model text; return the deltas that are ready to send."""
        if self.finished:
            return []
        self._buffer += piece
        spans = split_sentences(self._buffer)
        if len(spans) < 2:
            return []
        # Every span but the last is a finished sentence; the last may still grow.
        deltas = [d for s, e in spans[:-1] if (d := self._release(self._buffer[s:e]))]
        self._buffer = self._buffer[spans[-1][0]:]
        return deltas

    def finish(self) -> list[str]:
        """The model stopped: release what is left, or answer from the evidence itself."""
        deltas = [] if self.finished else [d for s, e in split_sentences(self._buffer)
                                           if (d := self._release(self._buffer[s:e]))]
        self._buffer = ""
        self.finished = True
        if not self.claims and self.evidence:
            deltas.append(self.quote_best())
        return deltas

    def _release(self, raw: str) -> str:
        if len(self.claims) >= self.max_sentences:
            self.finished = True
            return ""
        sentence = _PREAMBLE.sub("", _MODEL_MARKER.sub("", raw).strip())
        key = normalize_answer(sentence)
        if len(key) < _MIN_CHARS:
            return ""
        if key in self._seen:
            self.finished = True  # a small model that repeats itself has nothing more to say
            return ""
        self._seen.add(key)
        backed = _backing(sentence, self.evidence)
        if not backed:
            self.dropped += 1
            return ""
        return self._emit(Claim(sentence, backed))

    def quote_best(self) -> str:
        """Quote the evidence sentence that best answers the question, verbatim and cited.

        Used to lead the answer when the model is too weak to be trusted to write first,
        and as the whole answer when the model wrote nothing the evidence supports.
        """
        top = self.evidence[0]
        if top.lead:
            sentence = " ".join(top.lead.split())
        else:
            spans = best_sentences(self.question, top.text, 1) or [(0, len(top.text))]
            sentence = " ".join(top.text[spans[0][0] : spans[0][1]].split())
        self._seen.add(normalize_answer(sentence))
        # Other evidence that says the same counts as agreement, as for any sentence.
        return self._emit(Claim(sentence, [(top, 1.0), *_backing(sentence, self.evidence[1:])], extractive=True))

    def _emit(self, claim: Claim) -> str:
        self.claims.append(claim)
        delta = (" " if self.content else "") + claim.text
        for evidence, _ in claim.support[:MAX_MARKERS]:
            marker = f"[{evidence.number}]"
            delta += (" " if not delta.endswith("]") else "") + marker
            end = len(self.content) + len(delta)
            self.annotations.append(UrlCitation(end - len(marker), end, evidence.url, evidence.title))
        self.content += delta
        return delta


def _backing(sentence: str, evidence: list[Evidence]) -> list[tuple[Evidence, float]]:
    """The evidence that supports `sentence`, best first."""
    scored = ((e, support_score(sentence, e.text)) for e in evidence)
    return sorted(((e, s) for e, s in scored if s >= MIN_SUPPORT), key=lambda p: -p[1])
