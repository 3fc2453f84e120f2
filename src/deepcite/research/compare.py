"""Answer a question that compares two things by a date or a count, from what their pages give.

"Who was born first, A or B?", "Which film came out more recently, A or B?": on the 16
HotpotQA tune questions of this form, the small model's first sentence named the right
one 11 times; compared years, 15. Each choice's own page gives its year ("(born
5 December 1956)", "is a 1982 American film"); which year is earlier is arithmetic,
done here rather than by the model. "Who died first" compares the year after the dash
("(1890 – 1959)"). "Which genus has more species, A or B?" compares the numbers each page
gives before the thing counted ("a genus of about 15 species", "seven species"). When
either figure is missing, or they are the same, the model reads as usual.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from deepcite.research.evidence import Evidence
from deepcite.research.reader import NUMBER_WORDS, Reading, locate, options_offered, pages_titled

# "first" as in "which came out first", not "the first Russian composer".
_EARLIER = re.compile(r"\b(?:older|oldest|earlier|earliest|(?<!the )first)\b", re.I)
_LATER = re.compile(r"\b(?:younger|youngest|more recent(?:ly)?|later|latest|newer|newest)\b", re.I)
_DIED = re.compile(r"\b(?:died|death)\b", re.I)
# An end or a size is not the year a page opens with.
_OTHER_DATES = re.compile(r"\b(?:dead|ended|closed|longer|larger|less|(?:more|most)(?!\s+recent))\b", re.I)
_YEAR_DIGITS = r"(?:1\d{3}|20\d{2})"
# The dash of a span lost between a year and the next date's day: "(14 August 193322
# November 2012)" (12 pages of the HotpotQA corpus).
_GLUED = rf"(?=\d{{1,2}}\s+[A-Z][a-z]+\s+{_YEAR_DIGITS}\b)"
_YEAR = re.compile(rf"\b({_YEAR_DIGITS})(?:\b|{_GLUED})")
# A life's span in the page's first brackets: "(May 7, 1890 – February 20, 1959)".
_LIFESPAN = re.compile(rf"\([^()]*?\b{_YEAR_DIGITS}(?:\b[^()]*?[\u2013\u2014-]|{_GLUED})[^()]*?\b({_YEAR_DIGITS})\b[^()]*\)")
# "more species", "fewer members", "the most studio albums": what is counted follows.
_COUNTS = re.compile(r"\b(more|most|fewer)\s+([^,:?]+)", re.I)
_NUMBER = rf"\d[\d,]*|{'|'.join(NUMBER_WORDS.values())}"
_NUMBER_VALUE = {word: int(digits) for digits, word in NUMBER_WORDS.items()}
_MOST_COUNTED_WORDS = 5


@dataclasses.dataclass(frozen=True)
class Choice:
    choice: str  # the option chosen, as the question spells it
    sources: list[Evidence]  # its page, then the other option's
    figures: str  # each option's figure: "Krzysztof Zanussi: 1939, Thom Andersen: 1943"


def read_compared(question: str, evidence: Sequence[Evidence]) -> Reading | None:
    """The choice the question asks for by date or by count, in the evidence's words and
    backed by both pages; None when it is no such choice, the evidence cannot tell, or the
    choice is not found in the evidence."""
    chosen = by_date(question, evidence) or by_count(question, evidence)
    if chosen is None:
        return None
    located = locate(chosen.choice, evidence, question)
    if located.answer is None:
        return None
    # The answer is the choice as the question spells it: the sources may spell it otherwise
    # ("ibnʿArabī", whose closest run of words is "Ibn"), or inside a nickname ('Terrence
    # "Uncle Terry" Richardson', whose closest run is 'Terry" Richardson').
    how = f"compared what each page gives ({chosen.figures})"
    return dataclasses.replace(located, answer=chosen.choice, sources=chosen.sources, worked_out=how)


def by_date(question: str, evidence: Sequence[Evidence]) -> Choice | None:
    """The choice the question asks for by date; None when it is no such choice or the
    evidence lacks a year."""
    earlier, later = bool(_EARLIER.search(question)), bool(_LATER.search(question))
    if earlier == later or _OTHER_DATES.search(question):
        return None
    options = options_offered(question)
    year = _death_year if _DIED.search(question) else _first_year
    return _choose(options, evidence, year, smaller=earlier) if options is not None else None


def by_count(question: str, evidence: Sequence[Evidence]) -> Choice | None:
    """The choice the question asks for by a count ("more species"); None when it is no
    such choice or either page gives no number of that thing."""
    options = options_offered(question)
    asked = _COUNTS.search(question)
    if options is None or asked is None:
        return None
    # What is counted ends where the choices begin: "more species Eucryphia or Lepidozamia?"
    words = asked[2].split(options[0])[0].split()
    counted = words[-1].lower() if words else ""
    if not 0 < len(words) <= _MOST_COUNTED_WORDS or not counted.isalpha() or not counted.endswith("s"):
        return None
    return _choose(options, evidence, _count_of(counted), smaller=asked[1].lower() == "fewer")


def _choose(
    options: tuple[str, str], evidence: Sequence[Evidence], figure: Callable[[str], int | None], *, smaller: bool
) -> Choice | None:
    """The option whose own page's figure is the smaller (or larger), and both pages."""
    first, second = (_own_figure(option, evidence, figure) for option in options)
    if first is None or second is None or first[0] == second[0]:
        return None
    figures = f"{options[0]}: {first[0]}, {options[1]}: {second[0]}"
    if (first[0] < second[0]) == smaller:
        return Choice(options[0], [first[1], second[1]], figures)
    return Choice(options[1], [second[1], first[1]], figures)


def _own_figure(
    option: str, evidence: Sequence[Evidence], figure: Callable[[str], int | None]
) -> tuple[int, Evidence] | None:
    """The first figure the option's own page gives in the evidence."""
    for e in pages_titled(option, evidence):
        if (found := figure(e.text)) is not None:
            return found, e
    return None


def _first_year(text: str) -> int | None:
    found = _YEAR.search(text)
    return int(found[1]) if found else None


def _death_year(text: str) -> int | None:
    found = _LIFESPAN.search(text)
    return int(found[1]) if found else None


def _count_of(counted: str) -> Callable[[str], int | None]:
    """Reads the number a text gives of `counted` ("about 50 species", "seven species",
    "two studio albums", "the only species": 1). Words between the number and the thing
    are no numbers: "in 2005 four studio albums" counts four."""
    one = counted if counted == "species" else counted[:-1]
    between = rf"(?:(?!(?:{_NUMBER})\b)[A-Za-z'\u2019-]+\s+){{0,3}}?"
    many = re.compile(rf"\b({_NUMBER})\b(?:[\u2013-]\d+)?\s+{between}{counted}\b", re.I)
    single = re.compile(rf"\b(?:only|sole|single)\s+{between}{one}\b", re.I)

    def count(text: str) -> int | None:
        found = many.search(text)
        if found:
            number = found[1].lower().replace(",", "")
            return int(number) if number.isdigit() else _NUMBER_VALUE[number]
        return 1 if single.search(text) else None

    return count

