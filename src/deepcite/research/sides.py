"""A question about two things, read for each thing alone from its own page.

- "Are Aloinopsis and Eriogonum both ice plants?": yes when each is ("Are Aloinopsis ice plants?").
- "Were Goo Goo Dolls and Echosmith formed in the same city?": yes when the city each page
  gives is the same.
- "Which band is from England, Fireflight or Dirty Pretty Things?": the one of which the
  question holds ("Is it Fireflight?"), when exactly one does.
- "What are both James Hetfield and Bob Marley?": the words the two readings share ("American
  musician, singer, and songwriter", "Jamaican singer, songwriter and musician").

Asked whole, the small model says "yes" far more often than the sources allow, and picks
between two names nearly at random. Asked of one page at a time, it reads well, and the
verdict is a rule. HotpotQA, each thing's own page as the evidence, side by side:
"both" questions asked whole 32 of 50 right, per side 37 of the 38 whose two pages the
question names; "same" 9 -> 14 of 16; choices by a property 10 -> 19 of 24.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Literal

from deepcite.research.evidence import Evidence
from deepcite.research.links import bare_title, kind_named
from deepcite.research.reader import (
    NOT_FOUND,
    Reading,
    asks_yes_or_no,
    clean_model_answer,
    locate,
    opening_verdict,
    options_offered,
    pages_titled,
)
from deepcite.research.text import content_words

_BOTH = re.compile(r"\bboth\b", re.I)
# What the two must share: "of the same nationality", "the same level of city".
_SAME = re.compile(r"\bsame\s+([a-z]+(?:\s+of\s+[a-z]+)?)\b", re.I)
# A choice by degree ("which is larger?") is no property one page can show alone; a bound
# is one ("has written more than 300 papers").
_BY_DEGREE = re.compile(
    r"\b(?:(?:more|less|fewer)(?!\s+than\s+\d)|most|least|first|earlier|later|older|younger|recent(?:ly)?|newer|larger|taller|"
    r"busier|further|farther|closer|closest|longer|longest|higher|highest|bigger|smaller|better)\b",
    re.I,
)

# What two things have in common, asked openly: "Peter Curtis and Scott Draper are both what?".
_IN_COMMON = re.compile(r"\b(?:both|in\s+common|share[sd]?)\b", re.I)
# It asks for something: "Both Sorbaria and Goldenrod are a genus of ...?" is a yes or no.
_ASKS = re.compile(r"\b(?:what|which|who|whom|where|when|how)\b", re.I)
_REPLY_WORD = re.compile(r"\w[\w'’-]*")

Kind = Literal["both", "same", "choice", "common"]
# When the model says the same of both choices, the page that holds this many more of the
# question's other words is the one it asks for: HotpotQA tune 0-211, 5 such ties among 14
# choices by a property, 4 with such a margin, all 4 right ("pen name Walter Ericson" is on
# Howard Fast's page, not on Laura Esquivel's).
_TIE_MARGIN = 2


@dataclasses.dataclass(frozen=True)
class TwoSides:
    """The two things a question names, each with its own page in the evidence."""

    question: str
    spans: tuple[tuple[int, int], tuple[int, int]]  # where the question names each
    pages: tuple[Evidence, Evidence]
    excerpts: tuple[tuple[Evidence, ...], tuple[Evidence, ...]]  # every excerpt of each page, read alone
    kind: Kind
    shared: str = ""  # for "same": what must be the same ("nationality")

    @property
    def names(self) -> tuple[str, str]:
        (a, b), (c, d) = self.spans
        return self.question[a:b], self.question[c:d]

    def asked_of(self, name: str) -> str:
        """The question about one side alone: "Are Aloinopsis ice plants?" of "Are both
        Aloinopsis and Eriogonum ice plants?", "What are Bob Marley?" of "What are both James
        Hetfield and Bob Marley?"."""
        start, end = self.spans[0][0], self.spans[1][1]
        alone = f"{self.question[:start]}{name}{self.question[end:]}"
        return " ".join(_BOTH.sub("", alone).split())

    def reading(self, replies: Sequence[str]) -> Reading | None:
        """The verdict from each side's reply; None when the replies do not decide it."""
        said = [clean_model_answer(reply) for reply in replies]
        how = f"each side read on its own page ({self.summary(replies)})"
        if any(not s or NOT_FOUND.lower() in s.lower() for s in said):
            return None
        if self.kind == "common":
            return self._in_common(said, how)
        if self.kind == "same":
            first, second = (set(content_words(s)) for s in said)
            # "Buffalo" and "Buffalo, New York" are the same city.
            verdict = "yes" if first and second and (first <= second or second <= first) else "no"
            return Reading(verdict, list(self.pages), verdict, worked_out=how)
        holds = [opening_verdict(s) for s in said]
        if None in holds:
            return None
        if self.kind == "both":
            verdict = "yes" if holds == ["yes", "yes"] else "no"
            return Reading(verdict, list(self.pages), verdict, worked_out=how)
        if holds.count("yes") == 1:
            chosen = holds.index("yes")
        else:
            tied = self._by_the_question_words()
            if tied is None:
                return None
            chosen, how = tied, f"{how}; {self.names[tied]}'s page holds more of the question's words"
        name = self.names[chosen]
        return Reading(name, [self.pages[chosen], self.pages[1 - chosen]], name, worked_out=how)

    def _in_common(self, said: Sequence[str], how: str) -> Reading | None:
        """What both replies say, as the shorter of the two runs that hold every word they
        share, in its page's words; None when they share none."""
        words = [[(m, set(content_words(m.group()))) for m in _REPLY_WORD.finditer(s)] for s in said]
        common = set.intersection(*(set().union(*(w for _, w in reply)) for reply in words))
        if not common:
            return None
        runs = []
        for side, reply in enumerate(words):
            held = [i for i, (_, w) in enumerate(reply) if w & common]
            start, end = reply[held[0]][0].start(), reply[held[-1]][0].end()
            runs.append((held[-1] - held[0], side, said[side][start:end]))
        # The run with fewer words besides the shared: "former professional tennis player" of
        # "Australian former professional tennis player", not "former British professional ...".
        _, side, run = min(runs)
        located = locate(run, self.excerpts[side], self.question)
        if located.answer is None:
            return None
        return Reading(located.answer, [*located.sources, self.pages[1 - side]], located.answer, worked_out=how)

    def _by_the_question_words(self) -> int | None:
        """The side whose page holds `_TIE_MARGIN` more of the question's words besides the
        names than the other's; None when neither does."""
        named = {w for name in self.names for w in content_words(name)}
        asked = set(content_words(self.question)) - named
        first, second = (len(asked & set(content_words(" ".join(e.text for e in own)))) for own in self.excerpts)
        if abs(first - second) < _TIE_MARGIN:
            return None
        return 0 if first > second else 1

    def summary(self, replies: Sequence[str]) -> str:
        return "; ".join(f"{name}: {clean_model_answer(r)}" for name, r in zip(self.names, replies, strict=True))


def two_sides(question: str, evidence: Sequence[Evidence]) -> TwoSides | None:
    """The two things a question asks about one at a time, when the evidence holds the page
    of each; None otherwise (the model then reads the question whole)."""
    return _joined(question, evidence) or _offered(question, evidence)


def _joined(question: str, evidence: Sequence[Evidence]) -> TwoSides | None:
    """A "both" or "same" yes-or-no question, or one asking what two things have in common:
    the pages it names just before and just after its "and"."""
    joint = question.find(" and ")
    yes_no = asks_yes_or_no(question)
    shared = _SAME.search(question) if yes_no else None
    if yes_no and shared is None and not _BOTH.search(question):
        return None
    if not yes_no and not (_IN_COMMON.search(question) and _ASKS.search(question) and options_offered(question) is None):
        return None
    if joint < 0:
        return None
    named: list[tuple[int, int, Evidence]] = []
    for e in _namesakes_last(evidence, question):
        name = bare_title(e.title)
        found = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", question, re.I) if name else None
        if found:
            named.append((found.start(), found.end(), e))
    before = [n for n in named if n[1] <= joint]
    after = [n for n in named if n[0] > joint]
    if not before or not after:
        return None
    # The names nearest the "and", the longest where two end (or begin) at the same place.
    first = min(before, key=lambda n: (-n[1], n[0]))
    second = min(after, key=lambda n: (n[0], -n[1]))
    if first[2].url == second[2].url:
        return None
    spans = ((first[0], first[1]), (second[0], second[1]))
    pages = (first[2], second[2])
    excerpts = _own_excerpts(pages, evidence)
    if not yes_no:
        return TwoSides(question, spans, pages, excerpts, "common")
    if shared is None:
        return TwoSides(question, spans, pages, excerpts, "both")
    return TwoSides(question, spans, pages, excerpts, "same", shared[1].lower())


def _namesakes_last(evidence: Sequence[Evidence], question: str) -> list[Evidence]:
    """The evidence with pages of a kind the question does not name last: "Ed Wood (film)" after
    "Ed Wood" for "Were Scott Derrickson and Ed Wood of the same nationality?"."""
    return sorted(evidence, key=lambda e: not kind_named(e.title, question))


def _offered(question: str, evidence: Sequence[Evidence]) -> TwoSides | None:
    """A choice between two named things by a property ("is from England"), each with its page."""
    options = options_offered(question)
    if options is None or _BY_DEGREE.search(question):
        return None
    spans, pages = [], []
    for option in options:
        at = question.find(option)
        page = next(iter(pages_titled(option, _namesakes_last(evidence, question))), None)
        if at < 0 or page is None:
            return None
        name = re.sub(r"^the\s+", "", option, flags=re.I)
        spans.append((at + len(option) - len(name), at + len(option)))
        pages.append(page)
    if pages[0].url == pages[1].url:
        return None
    two = (pages[0], pages[1])
    return TwoSides(question, (spans[0], spans[1]), two, _own_excerpts(two, evidence), "choice")


def _own_excerpts(
    pages: tuple[Evidence, Evidence], evidence: Sequence[Evidence]
) -> tuple[tuple[Evidence, ...], tuple[Evidence, ...]]:
    first, second = (tuple(e for e in evidence if e.url == page.url) for page in pages)
    return first, second
