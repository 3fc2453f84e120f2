"""Each model's research budget: how many queries, pages, rounds and seconds it may spend."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ResearchProfile:
    name: str
    description: str
    queries: int  # search queries per round
    hits_per_query: int  # passages asked of each provider per query
    pages: int  # pages read in full (fetched or taken from the index) per round
    rounds: int  # research rounds; more than one follows leads found in earlier rounds
    evidence_tokens: int  # prompt budget for the numbered evidence
    evidence_passages: int  # at most this many passages shown to the model
    excerpt_sentences: int  # each passage is cut to its best sentences, to keep the prompt short
    answer_tokens: int  # most tokens the model may write
    answer_sentences: int  # most sentences the answer may have
    time_budget: float  # seconds for the research before writing begins
    cross_check: bool  # count independent sources agreeing before saying "high"
    # The model says the answer in a sentence of its own (one more short step); `speed`
    # opens with the short answer itself, so its first token comes sooner.
    lead_sentence: bool = True
    model_leads: bool = False  # the model names the next hop (IRCoT-style), besides the evidence's entities


PROFILES: dict[str, ResearchProfile] = {
    p.name: p
    for p in (
        ResearchProfile(
            name="speed",
            description="One search, answer from the best two passages, streamed at once.",
            # Two passages: the prompt is what the first token waits for. SQuAD tune 60, side by
            # side: 3 passages of 2 sentences (200 tokens), first sentence right 68 % at first
            # token p50 3.06 s; 2 of 2 (160), 67 % at 2.27 s; 1 of 3 (130), 72 % at 2.01 s, but
            # one passage is fragile: "Which NFL team represented the AFC at Super Bowl 50?"
            # got the sentence on the NFC game alone, and "Pittsburgh Steelers".
            queries=1, hits_per_query=8, pages=0, rounds=1,
            evidence_tokens=160, evidence_passages=2, excerpt_sentences=2, answer_tokens=96, answer_sentences=2,
            time_budget=0.5, cross_check=False, lead_sentence=False,
        ),
        ResearchProfile(
            name="lite",
            description="A few queries, the best pages read, answer with basis.",
            # Speed's evidence size. On 24 SQuAD tune questions, side by side: 300 tokens in 4
            # passages of 3 sentences, JSON F1 81 % at p50 5.9 s; 220 in 3 of 2, 82 % at 4.7 s.
            queries=3, hits_per_query=8, pages=4, rounds=1,
            evidence_tokens=220, evidence_passages=3, excerpt_sentences=2, answer_tokens=128, answer_sentences=3,
            time_budget=2.5, cross_check=False,
        ),
        ResearchProfile(
            name="base",
            description="Several queries, more pages, the leads they name followed once, cross-checked.",
            # Six passages, not five: the hop's page comes last in the evidence. HotpotQA tune 0-211
            # with the gold answer as the reading: evidence holding both pages 194 -> 198, both cited
            # 187 -> 188. Report sample with the model: both cited 60 -> 65 %, F1 50.3 -> 50.6 %,
            # p50 4.6 -> 4.9 s.
            queries=5, hits_per_query=10, pages=8, rounds=2,
            evidence_tokens=560, evidence_passages=6, excerpt_sentences=3, answer_tokens=160, answer_sentences=4,
            time_budget=5.0, cross_check=True,
        ),
        ResearchProfile(
            name="core",
            description="Iterative multi-hop research following the leads each round reveals.",
            # Six passages, not eight. Eight kept the later rounds' hops (HotpotQA tune 0-39: both
            # pages cited 36/40 -> 38/40, p50 17.0 -> 23.2 s), but on the report sample the short
            # answer fell to F1 46 % (58 % with six at stop 25) and both cited stayed at 80 %.
            queries=5, hits_per_query=10, pages=8, rounds=3,
            evidence_tokens=600, evidence_passages=6, excerpt_sentences=3, answer_tokens=200, answer_sentences=5,
            time_budget=15.0, cross_check=True, model_leads=True,
        ),
    )
}
