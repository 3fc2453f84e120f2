"""Compose a text answer: the answer first, in one checked sentence, then the evidence.

The answer opens with a sentence that states the short answer (written by the model and
checked by `verify`, or the answer itself when the model's sentence fails the check),
followed by verbatim sentences of the sources that state it — and, for a multi-hop
answer, of the source whose text named the answer's page and of the source that links
the question to it. Each sentence carries the markers
of the evidence that backs it; the engine, not the model, decides what is cited.
"""

from __future__ import annotations

import dataclasses
import re

from deepcite.research.basis import UrlCitation
from deepcite.research.evidence import Evidence
from deepcite.research.links import bare_title, kind, links_to, names_title, page_name, title_names
from deepcite.research.reader import Reading, opening_verdict
from deepcite.research.text import content_words, split_sentences
from deepcite.research.verify import contains_answer, same_root, support_score

MAX_MARKERS = 3
# The opening sentence answers briefly; a longer one of the model's follows the short answer.
BRIEF_WORDS = 30
_MODEL_MARKER = re.compile(r"\s*\[\s*\d+(?:\s*[,;-]\s*\d+)*\s*\]")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One sentence of the answer and the evidence that backs it, best first."""

    text: str
    support: list[tuple[Evidence, float]]
    extractive: bool = False  # quoted verbatim from the evidence

    @property
    def cited(self) -> list[Evidence]:
        """The evidence its markers show: the first few distinct pieces of its support."""
        shown: dict[int, Evidence] = {}
        for evidence, _ in self.support:
            shown.setdefault(evidence.number, evidence)
        return list(shown.values())[:MAX_MARKERS]


def model_sentence(text: str) -> str:
    """The first sentence the model wrote, without the markers it may have added."""
    text = _MODEL_MARKER.sub("", text).strip()
    spans = split_sentences(text)
    return text[spans[0][0] : spans[0][1]].strip() if spans else text


def answer_as_sentence(answer: str) -> str:
    """The short answer alone, as the opening sentence when no better one passed the check."""
    return answer[:1].upper() + answer[1:] + ("" if answer.endswith((".", "!", "?")) else ".")


def opening_claims(reading: Reading, sentence: Claim | None) -> list[Claim]:
    """The answer's opening: the model's checked sentence, else the short answer alone.

    A yes-or-no answer opens with its verdict. Asked to begin with "yes", the model often
    wrote 'Both "Cooking Light" and "Vibe" magazines are American monthly ...': the verdict
    goes first and the sentence after it; a sentence opening with the other verdict is dropped.
    So does the short answer before a sentence too long to answer briefly.
    """
    answer = reading.answer or ""
    short = Claim(answer_as_sentence(answer), [(e, 1.0) for e in reading.sources])
    if sentence is None:
        return [short]
    if not reading.yes_no:
        return [sentence] if len(sentence.text.split()) <= BRIEF_WORDS else [short, sentence]
    opening = opening_verdict(sentence.text)
    if opening == answer.lower():
        return [sentence]
    return [short] if opening is not None else [short, sentence]


@dataclasses.dataclass
class AnswerWriter:
    evidence: list[Evidence]
    question: str
    max_sentences: int = 3
    content: str = ""
    claims: list[Claim] = dataclasses.field(default_factory=list)
    annotations: list[UrlCitation] = dataclasses.field(default_factory=list)

    def emit(self, claim: Claim) -> str:
        """Append `claim` with its markers; returns the delta to send."""
        self.claims.append(claim)
        delta = (" " if self.content else "") + claim.text
        for evidence in claim.cited:
            marker = f"[{evidence.number}]"
            delta += ("" if delta.endswith("]") else " ") + marker
            end = len(self.content) + len(delta)
            self.annotations.append(UrlCitation(end - len(marker), end, evidence.url, evidence.title))
        self.content += delta
        return delta

    def supporting_quotes(self, reading: Reading) -> list[Claim]:
        """Verbatim sentences that state the answer, then those linking it to the question.

        The first comes from the source that holds the answer; then the answer's own page
        (see `_own_page_quote`) and the linked pages (see `_linked_quotes`). When the quoted
        text still leaves words of the question unexplained (a bridge entity, the other side of
        a comparison), a source on another page that is linked to it — it names the answer's
        page, the answer's page names it, or the question names it — and explains most of them
        follows.
        """
        quotes: list[Claim] = []
        said = " ".join(c.text for c in self.claims)
        holders = reading.sources if not reading.yes_no else self.evidence
        anchor = holders[0] if holders else None
        if anchor is not None:
            sentence = self._best_sentence(anchor, reading.answer if not reading.yes_no else None)
            if sentence and sentence not in said:
                quotes.append(Claim(sentence, [(anchor, 1.0)], extractive=True))
            if reading.answer is not None and not reading.yes_no:
                quotes += self._own_page_quote(anchor, reading.answer, quotes)
            quotes += self._linked_quotes(anchor, quotes)
        # What the sources quoted explain: the model's sentence may echo the question without proof.
        cited = [e for c in [*self.claims, *quotes] for e in c.cited]
        cited_pages = {e.source_key for e in cited}
        explained = set(content_words(" ".join([*(q.text for q in quotes), *(e.title for e in cited)])))
        for _ in range(self.max_sentences - len(self.claims) - len(quotes)):
            missing = set(content_words(self.question)) - explained
            if not missing or anchor is None:
                break
            bridge = self._bridge(missing, cited_pages, anchor)
            if bridge is None:
                break
            source, sentence = bridge
            quotes.append(Claim(sentence, [(source, support_score(sentence, source.text))], extractive=True))
            cited_pages.add(source.source_key)
            explained |= set(content_words(f"{source.title} {sentence}"))
        return quotes

    def _best_sentence(self, source: Evidence, answer: str | None) -> str:
        """The sentence of `source` that states `answer` and shares most with the question."""
        sentences = [source.text[s:e].strip() for s, e in split_sentences(source.text)]
        stating = [s for s in sentences if answer is None or contains_answer(s, answer)] or sentences
        question = set(content_words(self.question))
        return " ".join(max(stating, key=lambda s: len(question & set(content_words(s))), default="").split())

    def _own_page_quote(self, anchor: Evidence, answer: str, quotes: list[Claim]) -> list[Claim]:
        """The answer's own page, where the answer is a page ("Texas Tech University" for "what
        university did the 1974 team represent?"): its sentence that says what the answer is."""
        cited = {e.url for c in [*self.claims, *quotes] for e in c.cited}
        own = next((e for e in self.evidence if title_names(e.title, answer) and e.url not in cited), None)
        if own is None or own.url == anchor.url or len(self.claims) + len(quotes) >= self.max_sentences:
            return []
        sentence = self._naming_sentence(own, own.title)
        return [Claim(sentence, [(own, support_score(sentence, own.text))], extractive=True)]

    def _linked_quotes(self, anchor: Evidence, quotes: list[Claim]) -> list[Claim]:
        """The page whose text named the answer's page (how the answer was reached), then the
        pages the question names by title ("Edward Albee or J. M. Barrie"): one sentence each."""
        cited = {e.url for c in [*self.claims, *quotes] for e in c.cited}
        linked = [e for e in self.evidence if e.url == anchor.led_from or names_title(self.question, e.title)]
        # One page per name: "Polar bear" and "Polar Bear (locomotive)" are not the other side
        # of "the Polar Bear (cocktail) and Daiquiri"; the next name's page is. Of namesakes,
        # the one of the kind the question or the answer's page is ("Old Dogs (film)" for "which
        # film ...?", "Bloody Mary (cocktail)" beside "Sidecar (cocktail)"), else the closest.
        # Then the one the question writes as the title does: "Popular Science" the magazine,
        # not "Popular science" the genre.
        context = set(content_words(f"{self.question} {anchor.title}"))

        def fit(source: Evidence) -> tuple[int, bool, float]:
            return len(kind(source.title) & context), bare_title(source.title) in self.question, source.relevance

        names = {page_name(anchor.title)}
        closest = {page_name(e.title): e for e in sorted(linked, key=fit)}
        found: list[Claim] = []
        for source in sorted(linked, key=lambda e: e.url != anchor.led_from):
            if len(self.claims) + len(quotes) + len(found) >= self.max_sentences:
                break
            name = page_name(source.title)
            if source.url in cited or name in names or (source.url != anchor.led_from and closest[name] is not source):
                continue
            cited.add(source.url)
            names.add(name)
            sentence = self._naming_sentence(source, anchor.title)
            found.append(Claim(sentence, [(source, support_score(sentence, source.text))], extractive=True))
        return found

    def _naming_sentence(self, source: Evidence, title: str) -> str:
        """The sentence of `source` that names the page titled `title`, else its best for the question."""
        sentences = [" ".join(source.text[s:e].split()) for s, e in split_sentences(source.text)]
        return next((s for s in sentences if names_title(s, title)), None) or self._best_sentence(source, None)

    def _bridge(self, missing: set[str], cited_pages: set[str], anchor: Evidence) -> tuple[Evidence, str] | None:
        question = set(content_words(self.question))
        anchor_title = set(content_words(anchor.title))
        # A name of the answer's page that the question does not use ("Steuben"), found in the source.
        distinctive = anchor_title - question
        best: tuple[int, Evidence, str] | None = None
        for source in self.evidence:
            title = set(content_words(source.title))
            # The question may name the page in another form ("as a consultant": "Management consulting").
            titled = bool(title) and 2 * sum(any(same_root(t, q) for q in question) for t in title) >= len(title)
            named = source.led_from == anchor.url  # "a 2017 film starring Cressida Bonas"
            # The answer's page names it: "initiated by Mikhail Gorbachev" for "a former Soviet statesman".
            naming = links_to(anchor.text, source.title)
            linked = bool(distinctive & set(content_words(source.text))) or titled or named or naming
            if source.source_key in cited_pages or not linked:
                continue
            for s, e in split_sentences(source.text):
                sentence = " ".join(source.text[s:e].split())
                words = set(content_words(sentence))
                found = sum(any(w == m or same_root(w, m) for w in words) for m in missing)
                # The sentence that names the answer's subject is the link itself.
                found += 2 * (bool(anchor_title) and anchor_title <= words)
                if found and (best is None or found > best[0]):
                    best = (found, source, sentence)
        return None if best is None else (best[1], best[2])
