"""Choose the sentences that answer the question, across the best passages.

Passage ranking finds where the answer is; this finds the sentence that states it.
Three rankings are fused: by the question's rare words in the sentence, by the
embedding similarity of sentence and question, and by the rank of its passage.
(A bonus for sentences holding the kind of thing asked for — a year for "when" —
measured no better on SQuAD, so it is not here.)
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence

from deepcite.llm.encoder import TextEmbedder
from deepcite.research.ranking import Candidate, reciprocal_rank_fusion, sentence_term_scores
from deepcite.research.text import Span, content_words, split_sentences

SENTENCE_RRF_K = 20  # sentences are few: a smaller k lets the top ranks count more
# The sentence encoder links paraphrases ("how far ... in a year" with "covered 90,000 km in
# an annual round trip") that shared words miss; it counts twice.
LEXICAL_WEIGHT = 1.0
EMBEDDING_WEIGHT = 2.0
PASSAGE_WEIGHT = 0.5  # tuned on 900 SQuAD questions (3 samples): 1.0 cost ~1.5 points


@dataclasses.dataclass(frozen=True)
class ScoredSentence:
    passage: Candidate
    span: Span  # offsets in `passage.text`
    score: float

    @property
    def text(self) -> str:
        return self.passage.text[self.span[0] : self.span[1]]


async def score_sentences(
    question: str, passages: Sequence[Candidate], *, embedder: TextEmbedder
) -> list[ScoredSentence]:
    """Every sentence of `passages` (given best first), best first."""
    items: list[tuple[int, Candidate, Span]] = [
        (rank, p, span) for rank, p in enumerate(passages) for span in split_sentences(p.text)
    ]
    if not items:
        return []
    texts = [p.text[s:e] for _, p, (s, e) in items]
    # Rarity across all candidate sentences: a word in every sentence tells nothing.
    df = Counter(w for t in texts for w in set(content_words(t)))
    idf = {w: math.log(1.0 + len(texts) / c) for w, c in df.items()}
    # Words of the page title say which page, not which sentence: the opening sentence
    # that restates the title would otherwise win every time.
    by_title: dict[str, dict[str, float]] = {}
    lexical = [
        sentence_term_scores(
            question, [text], by_title.setdefault(p.title, {**idf, **dict.fromkeys(content_words(p.title), 0.0)})
        )[0]
        for (_, p, _), text in zip(items, texts, strict=True)
    ]
    vectors = await embedder.embed([question, *texts])
    similarity = (vectors[1:] @ vectors[0]).tolist()
    passage_prior = [-float(rank) for rank, _, _ in items]
    fused = reciprocal_rank_fusion(
        [(lexical, LEXICAL_WEIGHT), (similarity, EMBEDDING_WEIGHT), (passage_prior, PASSAGE_WEIGHT)], k=SENTENCE_RRF_K
    )
    scored = [
        ScoredSentence(passage, span, fused[k])
        for k, (_, passage, span) in enumerate(items)
        if lexical[k] > 0 or similarity[k] > 0
    ]
    return sorted(scored, key=lambda s: -s.score)
