"""Small text utilities shared by ranking, excerpting and answer checking.

Everything here is pure, deterministic and cheap: word tokens with a light
plural stemmer, a stopword list, SQuAD-style answer normalisation, and a
rule-based sentence splitter that returns character spans so that callers can
quote the page verbatim.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Iterable

Span = tuple[int, int]


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


STOPWORDS: frozenset[str] = _word_set(
    """
    a about above after again against all also am an and any are aren as at be because been
    before being below between both but by can cannot could couldn did didn do does doesn doing
    don down during each else ever few for from further had hadn has hasn have haven having he
    her here hers herself him himself his how however i if in into is isn it its itself just
    let me more most much must my myself no nor not now of off often on once only or other our
    ours ourselves out over own per same she should shouldn since so some such than that the
    their theirs them themselves then there these they this those though through thus to too
    under until up upon us very via was wasn we were weren what when where whether which while
    who whom whose why will with within without won would wouldn yet you your yours yourself
    yourselves s t d ll m re ve
    one many may might among
    don't doesn't didn't isn't aren't wasn't weren't won't wouldn't can't couldn't shouldn't
    hasn't haven't hadn't i'm i've i'd i'll you're you've you'll we're we've they're they've
    """
)

# Words and numbers; an inner apostrophe keeps "don't" and "Levi's" whole.
_WORD_RE = re.compile(r"\w+(?:['\u2019]\w+)*")
_POSSESSIVE_RE = re.compile(r"['\u2019]s$")
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


def stem(word: str) -> str:
    """Strip English plural endings (a cautious S-stemmer): "broncos" -> "bronco".

    Deliberately light: it must never merge unrelated words, only fold the
    singular and plural of one word together, the same way on both sides.
    """
    if len(word) <= 3 or not word.endswith("s") or word.isdigit():
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    if word.endswith(("us", "ss", "is", "ous")):
        return word
    return word[:-1]


@functools.lru_cache(maxsize=65_536)
def _token(word: str) -> str:
    # Cached: a ranking pass tokenises hundreds of passages that share their words.
    word = _POSSESSIVE_RE.sub("", word).replace("\u2019", "'")
    return word if word in STOPWORDS else stem(word)


def tokenize(text: str) -> list[str]:
    """Lowercased, stemmed word tokens of `text`, in order (stopwords kept)."""
    return [_token(word) for word in _WORD_RE.findall(text.lower())]


def without_stopwords(tokens: Iterable[str]) -> list[str]:
    """The tokens that carry meaning: no stopwords, no bare underscores."""
    return [t for t in tokens if t not in STOPWORDS and t.strip("_")]


def content_words(text: str) -> list[str]:
    """The meaningful tokens of `text`: `tokenize` without stopwords."""
    return without_stopwords(tokenize(text))


def normalize_answer(s: str) -> str:
    """SQuAD's answer normalisation: lowercase, no punctuation, no articles, single spaces."""
    s = unicodedata.normalize("NFKC", s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES_RE.sub(" ", s)
    return " ".join(s.split())


_DASHES = re.compile("[-\u2013\u2014]")


def normalize_name(s: str) -> str:
    """`normalize_answer`, reading "&" as "and" and a dash as a space: SQuAD's normalisation
    drops them as punctuation, so "Pasek & Paul" would not match "Pasek and Paul", nor
    "1989" the words "May 1, 1989—was", nor "24-10" the score "24–10"."""
    return normalize_answer(_DASHES.sub(" ", s.replace("&", " and ")))


# Abbreviations that precede a name or a number and so never end a sentence.
_NEVER_FINAL = _word_set(
    """
    mr mrs ms dr prof st sr rev hon gen gov sen rep col lt sgt capt cmdr adm maj mt
    vs fig figs vol vols pp cf e.g i.e eg ie a.k.a aka approx ca
    """
)
# Abbreviations that may also end a sentence ("... and so on, etc. The next ...").
_MAYBE_FINAL = _word_set(
    """
    etc al inc ltd co corp jr bros dept univ est ft jan feb mar apr jun jul aug sep sept oct nov dec
    """
)
# Words that typically open a sentence; after an ambiguous abbreviation they signal a break.
_SENTENCE_OPENERS = STOPWORDS - {"s", "t", "d", "ll", "m", "re", "ve"}

# A sentence end: terminal punctuation, any closing quotes or brackets, then whitespace.
_CLOSING_CHARS = "'\"\u2019\u201d)]"
_BOUNDARY_RE = re.compile(r"[.!?\u2026]+['\"\u2019\u201d)\]]*(?=\s)")
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n\s*")
_OPENING_CHARS = "\"'\u2018\u201c([\u00bf\u00a1"
_NEXT_WORD_RE = re.compile(r"[\"'\u2018\u201c(\[\u00bf\u00a1]*(\w+)")


def _word_before(text: str, end: int) -> str:
    """The run of non-space characters that ends at `end` (the period's position)."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENING_CHARS)


def _is_boundary(text: str, dot: int, after: int, end: int) -> bool:
    """Whether the terminator run `text[dot:after]` ends a sentence."""
    following = after
    while following < end and text[following].isspace():
        following += 1
    if following >= end:
        return True
    first = text[following]
    if first.islower() or first in ".\u2026":
        return False  # "said. then", or a spaced ellipsis ". . ."
    terminator = text[dot:after].rstrip(_CLOSING_CHARS)
    if terminator in ("...", "\u2026") or len(terminator) > 1 and set(terminator) == {"."}:
        return first.isupper()  # "1... 2... 3..." counts on; "rise... Certainly!" ends
    if terminator[0] != ".":
        return True
    word = _word_before(text, dot)
    key = word.lower()
    if key in _NEVER_FINAL:
        return False
    if key in ("no", "nos"):
        # "No. 5" numbers; a "No." before a word is the answer "no" ("No. Tony Gatlif ...").
        return not first.isdigit()
    if key in ("a.m", "p.m"):
        return first.isupper()  # "dinner at 8:10 p.m. Tesla ..." ends; a time rarely runs on into a name
    # Initials ("J. K. Rowling"), dotted acronyms ("U.S."), and the ambiguous
    # abbreviations end a sentence only when the next word looks like an opener.
    is_initial = len(word) == 1 and word.isalpha()
    is_acronym = "." in word and all(part.isalpha() and len(part) <= 2 for part in word.split("."))
    if is_initial or is_acronym or key in _MAYBE_FINAL:
        next_word = _NEXT_WORD_RE.match(text, following, end)
        if next_word is None or next_word.group(1).lower() not in _SENTENCE_OPENERS:
            return False
        # "J. A. Hobson": the next "word" is itself an initial, not the opener "a".
        return not (len(next_word.group(1)) == 1 and text.startswith(".", next_word.end()))
    return True


def _split_block(text: str, start: int, end: int) -> list[Span]:
    spans: list[Span] = []
    sentence_start = start
    for match in _BOUNDARY_RE.finditer(text, start, end):
        if _is_boundary(text, match.start(), match.end(), end):
            spans.append((sentence_start, match.end()))
            sentence_start = match.end()
    spans.append((sentence_start, end))
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            trimmed.append((s, e))
    return trimmed


def is_heading(sentence: str) -> bool:
    """Whether a span of `split_sentences` is a heading or label, not a sentence: it has no
    terminal punctuation ("The Migration of Arctic Terns", "Early life")."""
    return not sentence.rstrip().rstrip(_CLOSING_CHARS).endswith((".", "!", "?", "\u2026"))


def split_sentences(text: str) -> list[Span]:
    """Character spans `(start, end)` of the sentences of `text`, in order.

    `text[start:end]` is the sentence verbatim, without surrounding whitespace.
    Blank lines always separate sentences (headings, list items); within a
    block, a sentence ends at `.`, `!` or `?` followed by space, unless the
    period belongs to an abbreviation ("e.g.", "Dr."), an initial ("J. Smith"),
    an acronym ("U.S. Army") or a number ("3.14" has no space after it).
    """
    spans: list[Span] = []
    block_start = 0
    for blank in _BLANK_LINE_RE.finditer(text):
        spans.extend(_split_block(text, block_start, blank.start()))
        block_start = blank.end()
    spans.extend(_split_block(text, block_start, len(text)))
    return spans
