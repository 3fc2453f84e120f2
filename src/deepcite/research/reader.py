"""Read the short answer out of the evidence: the model names it, the evidence must hold it.

The model is asked for the shortest phrase of the sources that answers the question
(or to say the sources do not). What it says is then found in the evidence: exactly,
or as the closest run of the evidence's own words. An answer found nowhere is not an
answer: the caller abstains rather than repeat the model's memory.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from deepcite.research.evidence import Evidence
from deepcite.research.links import title_names
from deepcite.research.planner import entities
from deepcite.research.text import content_words, normalize_answer, normalize_name, split_sentences, stem

NOT_FOUND = "NOT FOUND"
# Token F1 a run of evidence words needs to stand in for what the model wrote.
MIN_SNAP_F1 = 0.6
# A one-word answer is read as a longer form of it in the sources ("Armenia" as "Armenian")
# when it starts that word, is this long and that word adds at most a few letters.
MIN_FORM_CHARS = 5
MAX_FORM_SUFFIX = 3
YES_NO = ("yes", "no")
_WORD = re.compile(r"[^\s\u2013\u2014-]+")  # words, as `normalize_name` reads them: "1989—was" is two
NUMBER_WORDS = {
    str(n): word
    for n, word in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ))
}
_NUMBER_NAMES = frozenset({*NUMBER_WORDS.values(), "hundred", "thousand", "million"})
# Questions whose answer is a quantity or a date: an answer without a number does not answer them.
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|old|far|long|tall|high|large|big)\b|\b(?:what|which) (?:year|percentage)\b"
    r"|^when\b|\bwhen (?:was|were|did|is|does|do)\b",
    re.I,
)
# A question opened by one of these asks for yes or no ("Are X and Y of the same nationality?").
_YES_NO_OPENERS = ("is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have", "had", "will")
_JOINERS = {"and", "or"}
_TRAILING = " .,;:!?\"'“”‘’()[]"
# Two names first, then a question about "these" / "the two": the choices come before the ask.
_NAME = r"[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*"
_NAMED_THEN_WHICH = re.compile(rf"^({_NAME}) and ({_NAME})\b[^?]*?\b[Ww]hich (?:of )?(?:these|the two|them|both)\b")
_CHOICE = r"([^,:?]+?)"
# The two choices that end a question: "Which is older, A or B?", "Is it A or B?",
# "Which occurred earlier--A or B?".
_OPTIONS = re.compile(
    rf"(?:[,:]\s+|\s*(?:--|[\u2013\u2014])\s*|\b(?:between|is|was|are|were)\s+){_CHOICE},?\s+or\s+{_CHOICE}\s*\?$", re.I
)
# The two choices set off by commas after the ask: "Which musician, A or B, is a member of Fuel?"
_OPTIONS_APART = re.compile(rf"^(?:which|who|what)\b[^,?]*,\s+{_CHOICE}\s+or\s+{_CHOICE}\s*,", re.I)
# Two names that end a question with nothing setting them off: "Which genus has more species
# Eucryphia or Lepidozamia?", "... more members Band of Skulls or Live?"
_TITLED = r"[A-Z][\w.'’-]*(?:\s+(?:(?:of|the|and|&)\s+)?[A-Z][\w.'’-]*)*"
_NAMES_LAST = re.compile(rf"\s({_TITLED})\s+or\s+({_TITLED})\s*\?$")
# Two names joined by "or" in a question that asks which: "Which airport Grand Forks
# International Airport or El Paso International Airport is closer to their town?"
_WHICH_NAMES = re.compile(rf"^[Ww]hich\b.*?\s({_TITLED})\s+or\s+({_TITLED})")
# The title before a subtitle's colon, set off by a comma: ", Still Kicking: " of "Which film
# came out first, Still Kicking: Six Artistic Women of Project Arts & Longevity or Time Bombs?".
_TITLE_BEFORE_COLON = re.compile(r",\s+([A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*):\s+$")
_POSSESSIVE = re.compile(r"['\u2019]s$")
_ASKS_WHICH = re.compile(r"\b(?:which|who|whom|whose)\b", re.I)


@dataclasses.dataclass(frozen=True)
class Reading:
    """The answer as the evidence words it (`None`: the evidence does not answer),
    and the evidence that holds it, best first."""

    answer: str | None
    sources: list[Evidence]
    model_said: str
    restated: bool = False  # the model said only the question's own words
    # How the answer was worked out from the sources (years compared, each side read on its
    # own page), when it was not read whole; empty otherwise.
    worked_out: str = ""

    @property
    def decided(self) -> bool:
        return bool(self.worked_out)

    @property
    def yes_no(self) -> bool:
        return self.answer is not None and self.answer.lower() in YES_NO


def asks_for_number(question: str) -> bool:
    """Whether the question asks how many, how far, what year, when...: its answer holds a number."""
    return bool(_ASKS_NUMBER.search(question))


def asks_yes_or_no(question: str) -> bool:
    words = question.strip().lower().split(maxsplit=1)
    return bool(words) and words[0] in _YES_NO_OPENERS


def states_number(answer: str) -> bool:
    """Whether `answer` holds a number, in digits or in words ("three centuries")."""
    return any(ch.isdigit() for ch in answer) or not _NUMBER_NAMES.isdisjoint(normalize_answer(answer).split())


def opening_verdict(text: str) -> str | None:
    """ "yes" or "no" when `text` opens with it ("Yes, both are", "No."), else None."""
    words = text.lower().split()
    first = words[0].strip(string.punctuation) if words else ""
    return first if first in YES_NO else None


def clean_model_answer(text: str) -> str:
    """The model's first line, without a preamble, markers or end punctuation."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    # "The answer is: X", "The shortest exact phrase copied from the sources is: X"
    line = re.sub(r"^[^:]{0,80}\b(?:answer|phrase|is)\s*:\s*", "", line, flags=re.I)
    line = re.sub(r"\s*\[\d+(?:\s*,\s*\d+)*\]", "", line)
    return line.strip(_TRAILING)


def options_offered(question: str) -> tuple[str, str] | None:
    """The two choices a question names ("Which is older, the Ford Falcon or the Mini?",
    "Which band, Letters to Cleo or Screaming Trees, had more members?",
    "Josey Scott and Ian Watkins were musicians. Which of these men ...?")."""
    question = question.strip()
    # Each of these needs an "or": without one, a long question is not scanned four more times.
    patterns = (_OPTIONS, _OPTIONS_APART, _NAMES_LAST, _WHICH_NAMES) if " or " in question else ()
    match = next((m for pattern in patterns if (m := pattern.search(question))), None)
    if match:
        # A title with a subtitle is one choice: "Still Kicking: Six Artistic Women of ...".
        title = _TITLE_BEFORE_COLON.search(question[: match.start(1)])
        first = question[title.start(1) : match.end(1)] if title else match[1]
        return _without_the_ask(first.strip(), match[2].strip()), match[2].strip()
    named = _NAMED_THEN_WHICH.search(question)
    return (named[1], named[2]) if named else None


def pages_titled(option: str, evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence from the own page of a choice the question offers ("the Leonberger" is
    on "Leonberger")."""
    name = re.sub(r"^the\s+", "", option, flags=re.I)
    return [e for e in evidence if title_names(e.title, name)]


def _without_the_ask(first: str, second: str) -> str:
    """The first of two named choices without the ask before it, when no comma set it off:
    "Mahbub ul Haq" of "born first Mahbub ul Haq" ("Who was born first Mahbub ul Haq or Ibn
    Arabi?"). Only when the other choice is a name too: "a left-hand or right-hand" is kept."""
    words = first.split()
    named = next((i for i, word in enumerate(words) if word[:1].isupper() or word[:1].isdigit()), 0)
    if second[:1].isupper() and named > 0 and words[named - 1][:1].islower():
        return " ".join(words[named:])
    return first


def restates(answer: str, question: str) -> bool:
    """Whether `answer` is only a run of the question's own words: "oversteering" for "a series
    based on what oversteering technique?". An answer whose words the question uses apart is a
    name of its own: "Kansas Song" for "the fight song of the university ... in Lawrence, Kansas",
    "Argand lamp" for "this type of lamp patented in 1780 by Aimé Argand"."""
    said = normalize_answer(answer)
    return bool(said) and f" {said} " in f" {normalize_answer(question)} "


def is_choice(answer: str, question: str) -> bool:
    """Whether `answer` is one of the choices the question offers: "Manon" of "Manon by
    Massenet", or a name the question joins to another by "or" or "and" when it asks which
    or who ("Who was born first, Erika Jayne or Marco Da Silva", "Temagami-Lorrain Mine and
    Burwash Mine were both mines ...; which one yielded ...?")."""
    if offered_option(answer, question) is not None:
        return True
    said = re.escape(normalize_answer(answer))
    joined = re.compile(rf"(?:^| )(?:or|and) {said}(?: |$)|(?:^| ){said} (?:or|and) ")
    return bool(said) and answer[:1].isupper() and bool(_ASKS_WHICH.search(question)) and bool(
        joined.search(normalize_answer(question))
    )


def offered_option(answer: str, question: str) -> str | None:
    """The choice the question offers whose words hold all of `answer`'s: "Manon by Massenet"
    of "Manon", "Semyon Aranovich Gershgorin" of "Semyon Aranovich"."""
    words = set(content_words(answer))
    return next((o for o in options_offered(question) or () if words and words <= set(content_words(o))), None)


def beyond_the_question(sentence: str, question: str) -> str:
    """The run of a sentence's words that the question does not already say, without stopwords
    at its ends: "film directing" of "Sidney Lumet and Albert Ward share a career in film
    directing" for "What was the career that Sidney Lumet and Albert Ward share in common?".
    Empty when the sentence says nothing new."""
    asked = set(content_words(question))
    runs: list[list[str]] = [[]]
    for word in clean_model_answer(sentence).split():
        said = content_words(word)
        if said and set(said) <= asked:
            runs.append([])
        else:
            runs[-1].append(word)

    def new_words(run: list[str]) -> int:
        return sum(1 for word in run for w in content_words(word) if w not in asked)

    best = max(runs, key=new_words)
    while best and not content_words(best[0]):
        best = best[1:]
    while best and not content_words(best[-1]):
        best = best[:-1]
    # A possessive before the question's words names the answer: "Bill Clinton's" of "under
    # United States President Bill Clinton's former Governor of Arkansas".
    return _POSSESSIVE.sub("", " ".join(best).strip(_TRAILING))


def fuller_name(answer: str, evidence: Sequence[Evidence], question: str) -> str | None:
    """The first name of the evidence that begins with `answer` and says more than the question:
    "Texas Tech University" where the model shortened it to the question's "Texas Tech"."""
    said = normalize_name(answer)
    names = (name for e in evidence for name in entities(e.text))
    return next((n for n in names if normalize_name(n).startswith(f"{said} ") and not restates(n, question)), None)


def locate(said: str, evidence: Sequence[Evidence], question: str = "") -> Reading:
    """Find what the model said in the evidence, as the evidence's own words.

    An answer made only of the question's own words ("Ethiopia" for "what did it secure
    for Ethiopia?") answers nothing, unless it is one of the choices the question offers.
    """
    answer = clean_model_answer(said)
    if not normalize_answer(answer) or NOT_FOUND.lower() in answer.lower():
        return Reading(None, [], said)
    if answer.lower() in YES_NO:
        # A yes/no answer compares what the sources say; it is no span of them.
        return Reading(answer.lower(), list(evidence), said)
    chosen = bool(question) and is_choice(answer, question)
    if question and not chosen and restates(answer, question):
        fuller = fuller_name(answer, evidence, question)
        if fuller is None:
            return Reading(None, [], said, restated=True)
        answer = fuller
    best: tuple[float, str, Evidence] | None = None
    holding = []
    # Sources write small numbers in words ("three sisters") where the model writes digits.
    forms = [answer, NUMBER_WORDS[answer]] if answer in NUMBER_WORDS else [answer]
    for e in evidence:
        span, score = max((closest_span(form, e.text) for form in forms), key=lambda found: found[1])
        if score >= 1.0:
            holding.append(e)
        if span and (best is None or score > best[0]):
            best = (score, span, e)
    if best is None or best[0] < MIN_SNAP_F1:
        form = longer_form(answer, evidence)
        # Found as a whole word of the sources, the longer form is located like any answer.
        if form is None:
            return Reading(None, [], said)
        return dataclasses.replace(locate(form, evidence, question), model_said=said)
    score, span, source = best
    sources = holding if score >= 1.0 else [source]
    if chosen:
        # The chosen name's own page states what the question compares, not its namesakes
        # ("Sigmund Freud", not "Sigmund Freud Prize").
        sources.sort(key=lambda e: not title_names(e.title, span))
        # A part of a choice is that choice, and its page is the one to cite: "Semyon
        # Aranovich" is "Semyon Aranovich Gershgorin", not the director "Semyon Aranovich".
        option = offered_option(span, question)
        if option is not None and not set(content_words(option)) <= set(content_words(span)):
            own = pages_titled(option, evidence)
            if own:
                return Reading(option, [*own, *(e for e in sources if e not in own)], said)
    return Reading(span, sources, said)


def longer_form(answer: str, evidence: Sequence[Evidence]) -> str | None:
    """The sources' word that is a longer form of a one-word answer: "Armenian" where the
    model said "Armenia" for "the shared country of ancestry of Art Laboe and Scout
    Tufankjian", whose pages say "of Armenian descent"."""
    said = normalize_name(answer)
    if " " in said or len(said) < MIN_FORM_CHARS:
        return None
    for e in evidence:
        for match in _WORD.finditer(e.text):
            word = match.group().strip(_TRAILING)
            form = normalize_name(word)
            if form.startswith(said) and 0 < len(form) - len(said) <= MAX_FORM_SUFFIX:
                return word
    return None


def closest_span(answer: str, text: str) -> tuple[str, float]:
    """The run of `text`'s words closest to `answer` by SQuAD token F1, and that F1.

    Returned verbatim from `text` (punctuation at its ends trimmed), so an answer
    the model rephrased slightly is reported in the source's own words.
    """
    # Read "&" as "and": else "Pasek and Paul" matches "Pasek & Paul and" better than the name.
    # Plurals fold ("film directors" is the sources' "film director"); the span stays verbatim.
    target = [stem(w) for w in normalize_name(answer).split()]
    if not target:
        return "", 0.0
    # Each word with its sentence: a span never runs across two ("are Doctor Who's oldest
    # villains. The Da..." was the model's "the Daleks are Doctor Who's oldest villains").
    ends = [end for _, end in split_sentences(text)]
    words = [
        (m.start(), m.end(), " ".join(map(stem, normalize_name(m.group()).split())), bisect.bisect_left(ends, m.end()))
        for m in _WORD.finditer(text)
    ]
    wanted = Counter(target)
    best = ("", 0.0)
    # Of two runs of the answer's words, the one in its order: "Shonen Jump", not 'Jump", "Shonen'
    # of 'magazine "Weekly Shōnen Jump", "Shonen Jump" is ...'.
    in_order = False
    n = len(target)
    for length in range(max(1, n - 2), n + 3):
        for i in range(len(words) - length + 1):
            window = words[i : i + length]
            if window[0][3] != window[-1][3]:
                continue
            if length > 1 and {window[0][2], window[-1][2]} & _JOINERS:
                continue  # "and author" is no answer: a span never opens or ends on a joiner
            tokens = [t for _, _, w, _ in window for t in w.split()]
            common = sum((Counter(tokens) & wanted).values())
            if not common:
                continue
            precision, recall = common / len(tokens), common / n
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best[1] or (f1 == best[1] and not in_order and tokens == target):
                best = (text[window[0][0] : window[-1][1]].strip(_TRAILING), f1)
                in_order = tokens == target
    # "Bill Clinton", not the sources' "Bill Clinton's national intelligence officer".
    if _POSSESSIVE.search(best[0]) and not _POSSESSIVE.search(answer.strip()):
        best = (_POSSESSIVE.sub("", best[0]), best[1])
    return best


def in_evidence_words(value: Any, evidence: Sequence[Evidence]) -> Any:
    """`value` with each string replaced by the closest run of the evidence's words, when
    one is close enough: a JSON answer's values come from the sources, not the model."""
    if isinstance(value, dict):
        return {k: in_evidence_words(v, evidence) for k, v in value.items()}
    if isinstance(value, list):
        return [in_evidence_words(v, evidence) for v in value]
    if not isinstance(value, str) or not value.strip() or value.strip().lower() in YES_NO:
        return value
    # The same words in other punctuation are the value as given (the closest run of the
    # sources' words may cut a quotation: 'Terry" Richardson' of 'Terrence "Uncle Terry"
    # Richardson'); in other case, they are the sources' ("Denver Broncos").
    answer = locate(value, evidence).answer
    if answer is None or (normalize_name(answer) == normalize_name(value) and answer.lower() != value.lower()):
        return value
    return answer
