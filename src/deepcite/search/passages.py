"""Split a page's text into passages that can be searched and quoted.

A passage is a span of the page text, never a rewritten copy: it keeps its
`(start, end)` offsets so that `text[start:end] == passage.text`. Citations quote
passages, and every excerpt must be verbatim in its page.

Passages hold roughly 60-120 words. Paragraphs (blank-line separated) are the
first choice of boundary, then sentences, then words; short paragraphs such as
headings are merged into their neighbours.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable

MIN_WORDS = 60
MAX_WORDS = 120

# Scripts without spaces (Chinese, Japanese) have no words to count, so a span
# weighs at least one "word" per this many characters.
_CHARS_PER_WORD = 8

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_WORD = re.compile(r"\S+")
# End of a sentence: terminal punctuation, optional closing quotes or brackets,
# whitespace, and then something that looks like the start of a sentence.
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-ÖØ-Þ])"
    r"|(?<=[。！？])\s*"
)


@dataclasses.dataclass(frozen=True)
class Passage:
    start: int
    end: int
    text: str


@dataclasses.dataclass(frozen=True)
class _Span:
    start: int
    end: int
    weight: int


def split_passages(text: str, *, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[Passage]:
    """Return the passages of `text`, in order; each is `text[start:end]`."""
    chunks: list[_Span] = []
    for paragraph in _paragraphs(text):
        if paragraph.weight <= max_words:
            chunks.append(paragraph)
        else:
            chunks.extend(_split_paragraph(text, paragraph, max_words))
    return [Passage(s.start, s.end, text[s.start : s.end]) for s in _merge_small(chunks, min_words, max_words)]


def _weight(text: str, start: int, end: int) -> int:
    words = sum(1 for _ in _WORD.finditer(text, start, end))
    return max(words, math.ceil((end - start) / _CHARS_PER_WORD))


def _trimmed(text: str, start: int, end: int) -> _Span | None:
    """The span without its surrounding whitespace, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return _Span(start, end, _weight(text, start, end)) if start < end else None


def _pieces(text: str, start: int, end: int, breaks: re.Pattern[str]) -> list[_Span]:
    spans: list[_Span] = []
    cursor = start
    for match in breaks.finditer(text, start, end):
        if (span := _trimmed(text, cursor, match.start())) is not None:
            spans.append(span)
        cursor = match.end()
    if (span := _trimmed(text, cursor, end)) is not None:
        spans.append(span)
    return spans


def _paragraphs(text: str) -> list[_Span]:
    return _pieces(text, 0, len(text), _PARAGRAPH_BREAK)


def _split_paragraph(text: str, paragraph: _Span, max_words: int) -> list[_Span]:
    """Cut a long paragraph into chunks of about equal size at sentence boundaries."""
    units: list[_Span] = []
    for sentence in _pieces(text, paragraph.start, paragraph.end, _SENTENCE_BREAK):
        units.extend(_split_words(text, sentence, max_words) if sentence.weight > max_words else [sentence])
    target = paragraph.weight / math.ceil(paragraph.weight / max_words)
    return _pack(units, max_words, lambda weight: weight >= target)


def _split_words(text: str, sentence: _Span, max_words: int) -> list[_Span]:
    """A sentence too long for one passage: cut it between words (or characters)."""
    units: list[_Span] = []
    max_chars = max_words * _CHARS_PER_WORD
    for word in _WORD.finditer(text, sentence.start, sentence.end):
        for cut in range(word.start(), word.end(), max_chars):
            end = min(cut + max_chars, word.end())
            units.append(_Span(cut, end, _weight(text, cut, end)))
    return _pack(units, max_words, lambda weight: False)


def _merge_small(chunks: list[_Span], min_words: int, max_words: int) -> list[_Span]:
    """Join chunks shorter than `min_words` with their neighbours while they fit.

    A short chunk (a heading, a one-line paragraph) first joins what follows it;
    only when that does not fit does it join what came before.
    """
    forward = _join_neighbours(chunks, max_words, lambda last, _: last.weight < min_words)
    return _join_neighbours(forward, max_words, lambda _, chunk: chunk.weight < min_words)


def _join_neighbours(chunks: list[_Span], max_words: int, short: Callable[[_Span, _Span], bool]) -> list[_Span]:
    """One pass joining each chunk to the one before it when `short(before, chunk)` and they fit."""
    joined: list[_Span] = []
    for chunk in chunks:
        last = joined[-1] if joined else None
        if last is not None and short(last, chunk) and last.weight + chunk.weight <= max_words:
            joined[-1] = _Span(last.start, chunk.end, last.weight + chunk.weight)
        else:
            joined.append(chunk)
    return joined


def _pack(units: list[_Span], max_words: int, full: Callable[[int], bool]) -> list[_Span]:
    """Group consecutive units into spans of at most `max_words` (one unit may exceed it)."""
    packed: list[_Span] = []
    start = end = weight = 0
    for unit in units:
        if weight and (weight + unit.weight > max_words or full(weight)):
            packed.append(_Span(start, end, weight))
            weight = 0
        if not weight:
            start = unit.start
        end = unit.end
        weight += unit.weight
    if weight:
        packed.append(_Span(start, end, weight))
    return packed
