"""Choose the few passages the model gets to read.

Candidates come from different places (the local index's BM25, pages fetched
and split on the fly), so their own scores cannot be compared. Ranking
therefore scores them afresh over the candidate set itself: Okapi BM25 on
their words, then the sentence encoder's cosine to the query for the best of
them (encoding every passage of every page read would take seconds), fused by
reciprocal rank (RRF). It then drops near-duplicates, caps passages per page and packs the best
into a token budget, trimming a passage to its best sentences when it is too
long to fit whole. Every text it returns is a verbatim substring of its page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from deepcite.llm.encoder import TextEmbedder, Vectors
from deepcite.research.text import Span, content_words, split_sentences, tokenize, without_stopwords
from deepcite.search.base import SearchHit

TokenCounter = Callable[[str], int]

RRF_K = 60
BM25_WEIGHT = 1.0
EMBEDDING_WEIGHT = 1.0
# Passages given to the encoder, the best by BM25; the rest rank after them.
ENCODER_POOL = 24
BM25_K1 = 1.2
BM25_B = 0.75
SHINGLE_SIZE = 3
DUPLICATE_SHINGLES = 0.8
DUPLICATE_COSINE = 0.95
# Below this many free tokens, a trimmed excerpt would be too short to help.
MIN_EXCERPT_TOKENS = 24


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A passage that might be shown to the model.

    `text` is a verbatim substring of `page_text` when the page is known, and
    `start` its offset there (found by `rank_passages` when left out).
    """

    url: str
    title: str
    text: str
    page_text: str | None = None
    start: int | None = None
    provider: str = ""
    source_score: float = 0.0
    publish_date: str | None = None

    @classmethod
    def from_hit(cls, hit: SearchHit) -> Candidate:
        return cls(
            url=hit.url,
            title=hit.title,
            text=hit.text,
            page_text=hit.page_text,
            provider=hit.provider,
            source_score=hit.score,
            publish_date=hit.publish_date,
        )

    @property
    def end(self) -> int | None:
        return None if self.start is None else self.start + len(self.text)

    def located(self) -> Candidate:
        """This candidate with `start` checked against the page, found, or None."""
        if self.page_text is None:
            return self if self.start is None else dataclasses.replace(self, start=None)
        if self.start is not None and self.page_text.startswith(self.text, self.start):
            return self
        found = self.page_text.find(self.text)
        return dataclasses.replace(self, start=found if found >= 0 else None)


@dataclasses.dataclass(frozen=True)
class RankedPassage:
    """A chosen passage and why it was chosen.

    `candidate` is the passage as it will be shown: the original candidate, or
    a run of its sentences when it had to be trimmed to fit (`trimmed`), with
    `start` moved accordingly, so its text is still verbatim in the page.
    """

    candidate: Candidate
    score: float
    bm25: float
    similarity: float
    tokens: int
    trimmed: bool

    @property
    def url(self) -> str:
        return self.candidate.url

    @property
    def title(self) -> str:
        return self.candidate.title

    @property
    def text(self) -> str:
        return self.candidate.text

    @property
    def start(self) -> int | None:
        return self.candidate.start

    @property
    def end(self) -> int | None:
        return self.candidate.end


@dataclasses.dataclass(frozen=True)
class _Lexical:
    bm25: list[float]
    idf: dict[str, float]
    shingles: list[frozenset[tuple[str, ...]]]


async def rank_passages(
    query: str,
    candidates: Iterable[Candidate | SearchHit],
    *,
    embedder: TextEmbedder,
    budget_tokens: int,
    count_tokens: TokenCounter,
    max_per_page: int = 3,
    max_passages: int | None = None,
) -> list[RankedPassage]:
    """The best passages for `query`, best first, that fit together in `budget_tokens`.

    `count_tokens` measures a passage's text in the reader model's tokens.
    """
    items = _unique((c if isinstance(c, Candidate) else Candidate.from_hit(c)).located() for c in candidates)
    if not items or budget_tokens <= 0:
        return []
    lexical = await asyncio.to_thread(_lexical_scores, query, items)
    pool = sorted(range(len(items)), key=lambda i: -lexical.bm25[i])[:ENCODER_POOL]
    encoded = await embedder.embed([query, *(_with_title(items[i]) for i in pool)])
    vectors = np.zeros((len(items) + 1, encoded.shape[1]), dtype=np.float32)
    vectors[0] = encoded[0]
    vectors[[i + 1 for i in pool]] = encoded[1:]
    similarity = [float(x) for x in vectors[1:] @ vectors[0]]
    outside = set(range(len(items))) - set(pool)
    for i in outside:
        similarity[i] = -1.0
    fused = reciprocal_rank_fusion([(lexical.bm25, BM25_WEIGHT), (similarity, EMBEDDING_WEIGHT)])
    order = sorted(range(len(items)), key=lambda i: (-fused[i], -lexical.bm25[i], -similarity[i], i))

    chosen: list[RankedPassage] = []
    chosen_index: list[int] = []
    per_page: Counter[str] = Counter()
    remaining = budget_tokens
    passage_vectors = vectors[1:]
    for i in order:
        if remaining <= 0 or len(chosen) == max_passages:
            break
        item = items[i]
        if per_page[item.url] >= max_per_page:
            continue
        if any(_near_duplicate(items[i], items[j], lexical, passage_vectors, i, j) for j in chosen_index):
            continue
        fitted = _fit(query, item, remaining, count_tokens, lexical.idf)
        if fitted is None:
            continue
        passage, tokens = fitted
        chosen.append(
            RankedPassage(
                candidate=passage,
                score=fused[i],
                bm25=lexical.bm25[i],
                similarity=similarity[i],
                tokens=tokens,
                trimmed=passage is not item,
            )
        )
        chosen_index.append(i)
        per_page[item.url] += 1
        remaining -= tokens
    return chosen


def _unique(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Drop empty passages and exact repeats (the same passage from two providers)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for candidate in candidates:
        key = (candidate.url, candidate.text)
        if candidate.text.strip() and key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique


def _query_terms(query: str) -> list[str]:
    # A query of only stopwords ("who is it?") still deserves some matching.
    return list(dict.fromkeys(content_words(query) or tokenize(query)))


def _with_title(candidate: Candidate) -> str:
    # The page title says what the passage is about when the passage itself
    # only says "it" or "the team"; both scorers read it.
    return f"{candidate.title}. {candidate.text}" if candidate.title else candidate.text


def _lexical_scores(query: str, items: Sequence[Candidate]) -> _Lexical:
    tokens = [tokenize(c.text) for c in items]
    documents = [without_stopwords([*tokenize(c.title), *t]) for c, t in zip(items, tokens, strict=True)]
    shingles = [_shingles(t) for t in tokens]
    document_frequency: Counter[str] = Counter()
    for words in documents:
        document_frequency.update(set(words))
    n = len(documents)
    idf = {term: math.log(1.0 + (n - df + 0.5) / (df + 0.5)) for term, df in document_frequency.items()}
    average_length = max(1.0, sum(len(d) for d in documents) / n)
    terms = _query_terms(query)
    scores = []
    for words in documents:
        frequency = Counter(words)
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * len(words) / average_length)
        scores.append(sum(idf[t] * frequency[t] * (BM25_K1 + 1.0) / (frequency[t] + norm) for t in terms if frequency[t]))
    return _Lexical(bm25=scores, idf=idf, shingles=shingles)


def reciprocal_rank_fusion(rankings: Sequence[tuple[Sequence[float], float]], *, k: int = RRF_K) -> list[float]:
    """Sum of weight/(k + rank) over the (scores, weight) rankings; ties share their best rank."""
    fused = [0.0] * len(rankings[0][0])
    for scores, weight in rankings:
        ordered = sorted(range(len(scores)), key=lambda i: -scores[i])
        rank = 0
        for position, i in enumerate(ordered):
            if position == 0 or scores[i] != scores[ordered[position - 1]]:
                rank = position + 1
            fused[i] += weight / (k + rank)
    return fused


def _shingles(tokens: Sequence[str]) -> frozenset[tuple[str, ...]]:
    if len(tokens) < SHINGLE_SIZE:
        return frozenset({tuple(tokens)})
    return frozenset(tuple(tokens[i : i + SHINGLE_SIZE]) for i in range(len(tokens) - SHINGLE_SIZE + 1))


def _near_duplicate(a: Candidate, b: Candidate, lexical: _Lexical, vectors: Vectors, i: int, j: int) -> bool:
    if a.url == b.url and _overlap(a, b):
        return True
    sa, sb = lexical.shingles[i], lexical.shingles[j]
    # Overlap over the smaller set rather than Jaccard's union: a passage that
    # mostly sits inside another (a snippet of a mirrored page) is a copy too.
    if len(sa & sb) > DUPLICATE_SHINGLES * min(len(sa), len(sb)):
        return True
    return float(np.dot(vectors[i], vectors[j])) > DUPLICATE_COSINE


def _overlap(a: Candidate, b: Candidate) -> bool:
    if a.start is not None and b.start is not None and a.end is not None and b.end is not None:
        return a.start < b.end and b.start < a.end
    return a.text in b.text or b.text in a.text


def _fit(
    query: str, item: Candidate, remaining: int, count_tokens: TokenCounter, idf: Mapping[str, float]
) -> tuple[Candidate, int] | None:
    """The candidate, or its best run of sentences, within `remaining` tokens."""
    tokens = count_tokens(item.text)
    if tokens <= remaining:
        return item, tokens
    if remaining < MIN_EXCERPT_TOKENS:
        return None
    spans = split_sentences(item.text)
    scores = _sentence_scores(query, item.text, spans, idf)
    if not spans or max(scores) <= 0:
        return None
    best = max(range(len(spans)), key=lambda k: (scores[k], -k))
    first = last = best
    tokens = count_tokens(item.text[spans[best][0] : spans[best][1]])
    if tokens > remaining:
        return None
    # Grow the excerpt towards the better-matching neighbour while it fits.
    while True:
        options = [k for k in (first - 1, last + 1) if 0 <= k < len(spans)]
        grown = None
        for k in sorted(options, key=lambda k: (-scores[k], k)):
            lo, hi = min(first, k), max(last, k)
            size = count_tokens(item.text[spans[lo][0] : spans[hi][1]])
            if size <= remaining:
                grown = (lo, hi, size)
                break
        if grown is None:
            break
        first, last, tokens = grown
    start, end = spans[first][0], spans[last][1]
    offset = None if item.start is None else item.start + start
    return dataclasses.replace(item, text=item.text[start:end], start=offset), tokens


def _sentence_scores(query: str, text: str, spans: Sequence[Span], idf: Mapping[str, float] | None) -> list[float]:
    terms = set(_query_terms(query))
    sentence_terms = [set(content_words(text[s:e])) & terms for s, e in spans]
    if idf is None:
        # Rarity among the passage's own sentences: a term in every sentence says little.
        df = Counter(t for found in sentence_terms for t in found)
        n = len(spans)
        idf = {t: math.log(1.0 + n / count) for t, count in df.items()}
    return [sum(idf.get(t, 1.0) for t in found) for found in sentence_terms]


def sentence_term_scores(query: str, sentences: Sequence[str], idf: Mapping[str, float]) -> list[float]:
    """Rarity-weighted sum of the query's content words found in each sentence."""
    terms = set(_query_terms(query))
    return [sum(idf.get(t, 1.0) for t in set(content_words(s)) & terms) for s in sentences]


def best_sentences(query: str, text: str, n: int, *, idf: Mapping[str, float] | None = None) -> list[Span]:
    """Spans of the (at most) `n` sentences of `text` that best match `query`, in text order.

    A sentence scores the rarity-weighted sum of the query's content words it
    contains; sentences sharing no word with the query are never returned.
    `idf` may carry rarity from a wider collection (term -> weight).
    """
    spans = split_sentences(text)
    scores = _sentence_scores(query, text, spans, idf)
    ranked = sorted((k for k in range(len(spans)) if scores[k] > 0), key=lambda k: (-scores[k], k))
    return sorted(spans[k] for k in ranked[: max(0, n)])
