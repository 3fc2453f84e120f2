"""Gather evidence for a question: search, read pages, rank passages, follow leads.

One pass per research round. The result is a short list of numbered, verbatim
excerpts that fits the profile's prompt budget.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Protocol

from deepcite.errors import DeepciteError
from deepcite.llm.encoder import TextEmbedder
from deepcite.research.conversation import Conversation
from deepcite.research.events import Progress
from deepcite.research.evidence import Evidence, verbatim
from deepcite.research.grounding import question_coverage
from deepcite.research.links import bare_title, kind_named, links_to, names_title, page_name, title_names
from deepcite.research.planner import first_queries, follow_up_queries, question_entities
from deepcite.research.profiles import ResearchProfile
from deepcite.research.ranking import Candidate, RankedPassage, rank_passages
from deepcite.research.sentences import ScoredSentence, score_sentences
from deepcite.research.text import content_words, is_heading, split_sentences
from deepcite.search.base import SearchProvider
from deepcite.search.fanout import search_everywhere
from deepcite.search.passages import split_passages

MIN_REMOTE_PAGES = 2  # web pages read even by a profile that reads none, to quote them
MIN_READ_SECONDS = 0.5
MAX_HOP_PASSAGES = 2  # passages kept of what each round of leads found
PASSAGES_PER_LINKED_PAGE = 2  # of a page the question or the evidence names, read for its excerpt
# Passages whose words decide whether leads are needed. Judged on all five, a distractor
# ("Antic (magazine)") explained "magazine" of "what type of magazine is Eugene Habecker the
# chairman of?"; on the best two, base follows his page's lead to Christianity Today's.
# HotpotQA tune 0-79, base, both pages cited: 66/80 judged on five, 68/80 on two.
LEADS_JUDGED_BY = 2
PAGE_ABOUT_SECONDS = 1.0  # to find and read the page an answer titles, after the answer is sent
PAGE_OPENING_CHARS = 2000
MIN_WORDS_EXPLAINED = 2  # of the question's, by a page a runner-up names, for it to lead there


class ReadPage(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def text(self) -> str: ...


class PageReader(Protocol):
    """Reads web pages in full (the fetcher); local-index pages need no reading."""

    async def fetch_many(
        self, urls: Iterable[str], *, total_timeout: float
    ) -> Mapping[str, ReadPage | DeepciteError]:
        """url -> the page, or why it could not be read in time."""
        ...


@dataclasses.dataclass
class Findings:
    """What the research has found so far; `evidence` is final once gathering ends."""

    pages: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # url -> (title, text)
    candidates: dict[tuple[str, int | None], Candidate] = dataclasses.field(default_factory=dict)
    leads: list[str] = dataclasses.field(default_factory=list)
    ranked: list[RankedPassage] = dataclasses.field(default_factory=list)  # for the question
    hops: list[RankedPassage] = dataclasses.field(default_factory=list)  # for the leads followed
    led_from: dict[str, str] = dataclasses.field(default_factory=dict)  # page -> the page that named it
    evidence: list[Evidence] = dataclasses.field(default_factory=list)

    def add(self, candidate: Candidate) -> None:
        """Keep the first copy of a passage found by several queries."""
        self.candidates.setdefault((candidate.url, candidate.start), candidate)


# Given the question and the evidence so far, the model names what to look up next (or None).
NextSearch = Callable[[Conversation, list[Evidence]], Awaitable[str | None]]


@dataclasses.dataclass
class Researcher:
    providers: list[SearchProvider]
    embedder: TextEmbedder
    count_tokens: Callable[[str], int]
    reader: PageReader | None = None
    next_search: NextSearch | None = None

    async def gather(
        self, conversation: Conversation, profile: ResearchProfile, findings: Findings
    ) -> AsyncIterator[Progress]:
        """Run the profile's rounds, yielding progress; leaves the evidence in `findings`."""
        deadline = time.monotonic() + profile.time_budget
        question = conversation.search_text
        queries = first_queries(question, profile.queries)
        async for progress in self._round(queries, profile, findings, deadline, named=question_entities(question)):
            yield progress
        findings.ranked = await self._rank(question, list(findings.candidates.values()), profile)
        for _ in range(profile.rounds - 1):
            top = [r.candidate for r in [*findings.ranked[: profile.evidence_passages], *findings.hops]]
            texts = [c.text for c in top]
            # Without the model, leads are followed while the best passages leave words of the
            # question unexplained (the model may find a link even when none are).
            connected = _connected(question, findings.ranked[:LEADS_JUDGED_BY])
            judged = [f"{r.title} {r.text}" for r in [*connected, *findings.hops]]
            if time.monotonic() >= deadline or (not profile.model_leads and question_coverage(question, judged) >= 1.0):
                break
            leads = follow_up_queries(question, texts, set(findings.leads), profile.queries)
            if profile.model_leads and self.next_search is not None:
                # IRCoT-style: the model reads what was found and names the missing link;
                # the entities of the evidence remain the fallback.
                yield Progress("plan", "asking the model what is still missing")
                so_far = [
                    Evidence(n, r.url, r.title, r.text, r.candidate.page_text or "")
                    for n, r in enumerate(findings.ranked[: profile.evidence_passages], start=1)
                ]
                named = await self.next_search(conversation, so_far)
                # A small model often says "done" too early: the evidence's own leads still count.
                if named is not None and named.lower() not in {lead.lower() for lead in findings.leads}:
                    leads = [(named, f'"{named}"'), *[lead for lead in leads if lead[0].lower() != named.lower()]]
                    leads = leads[: profile.queries]
            if not leads:
                break
            findings.leads.extend(entity for entity, _ in leads)
            yield Progress("plan", "following leads: " + "; ".join(entity for entity, _ in leads))
            known = set(findings.candidates)
            names = [entity for entity, _ in leads]
            async for progress in self._round([query for _, query in leads], profile, findings, deadline, names):
                yield progress
            new = [c for key, c in findings.candidates.items() if key not in known]
            # The page a lead's name titles is the hop (other pages only when no lead has one);
            # its passages are ranked by the question, whose rest they should answer.
            # A namesake of another kind is not the hop: "Nevada (1944 film)" for "Las Vegas, Nevada".
            context = " ".join([question, *texts])
            titled = _titled_leads(names, new)
            linked = [c for c in new if any(_hop_titled(c.title, n, titled) for n in names) and kind_named(c.title, context)]
            for c in linked:
                named_by = next((t.url for t in top if links_to(t.text, c.title)), None)
                if named_by is not None:
                    findings.led_from.setdefault(c.url, named_by)
            hops = await self._rank(" ".join([question, *names]), linked or new, profile, MAX_HOP_PASSAGES)
            findings.hops.extend(hops)
        findings.evidence = await self._evidence(conversation, profile, findings)

    async def page_about(self, name: str, question: str, named_in: str, number: int) -> Evidence | None:
        """The page whose title names `name` (which the text `named_in` names), as evidence
        numbered `number`: its sentence that names it, where a page says what its subject is.
        None when no page is titled so.

        An answer that is itself a page ("Indianapolis Motor Speedway", "Texas Tech University")
        is described on that page; in HotpotQA 116 of 425 answers title one of the two pages
        the question needs. A namesake of a kind neither text names is not that page.
        """
        hits, _ = await search_everywhere(self.providers, [f'"{name}"'], limit=3, within=PAGE_ABOUT_SECONDS)
        hit = next((h for h in hits if title_names(h.title, name) and kind_named(h.title, f"{question} {named_in}")), None)
        if hit is None:
            return None
        page_text = hit.page_text
        if page_text is None and self.reader is not None:
            page = (await self.reader.fetch_many([hit.url], total_timeout=PAGE_ABOUT_SECONDS)).get(hit.url)
            page_text = None if page is None or isinstance(page, DeepciteError) else page.text
        opening = (page_text or "")[:PAGE_OPENING_CHARS]  # where a page says what its subject is
        sentences = [opening[s:e].strip() for s, e in split_sentences(opening)]
        text = next((s for s in sentences if names_title(s, hit.title)), sentences[0] if sentences else "")
        if not page_text or not verbatim(text, page_text):
            return None
        relevance = (await self.embedder.similarity(question, [f"{hit.title}. {text}"]))[0]
        return Evidence(number, hit.url, hit.title, text, page_text, text, relevance)

    async def _round(
        self,
        queries: list[str],
        profile: ResearchProfile,
        findings: Findings,
        deadline: float,
        named: Sequence[str] = (),
    ) -> AsyncIterator[Progress]:
        for query in queries:
            yield Progress("search", f"searching: {query}")
        timeout = max(MIN_READ_SECONDS, deadline - time.monotonic())
        found = await asyncio.gather(
            *(search_everywhere(self.providers, [q], limit=profile.hits_per_query, within=timeout) for q in queries)
        )
        # Pages are read in turns, each query's best first, so that every query gets its page
        # read; and before them the pages titled with a name searched for: they are the hops.
        hits = [hit for turn in itertools.zip_longest(*(h for h, _ in found)) for hit in turn if hit is not None]
        hits.sort(key=lambda hit: not any(title_names(hit.title, name) for name in named))
        for hit in hits:
            findings.add(Candidate.from_hit(hit).located())
        urls = [u for u in dict.fromkeys(h.url for h in hits) if u not in findings.pages]
        local = {h.url: (h.title, h.page_text) for h in hits if h.page_text is not None}
        # A web result's snippet is the search service's wording, not the page's: the pages
        # are read (even by `speed`) and only their own text may be quoted.
        remote = [u for u in urls if u not in local][: max(profile.pages, MIN_REMOTE_PAGES)]
        if remote and self.reader is not None:
            yield Progress("read", f"reading {len(remote)} page{'s' if len(remote) != 1 else ''}")
            budget = max(MIN_READ_SECONDS, deadline - time.monotonic())
            for url, page in (await self.reader.fetch_many(remote, total_timeout=budget)).items():
                if not isinstance(page, DeepciteError):
                    findings.pages[url] = (page.title, page.text)
        for key in [k for k, c in findings.candidates.items() if c.page_text is None]:
            del findings.candidates[key]
        # Local pages are whole in the index: reading them means taking all their passages.
        for url in [u for u in urls if u in local][: profile.pages]:
            findings.pages[url] = local[url]
        for url in urls:
            if url in findings.pages:
                title, text = findings.pages[url]
                for passage in split_passages(text):
                    findings.add(Candidate(url, title, passage.text, text, passage.start))
        if findings.pages:
            yield Progress("read", f"read {len(findings.pages)} pages, {len(findings.candidates)} passages")

    async def _rank(
        self, query: str, candidates: list[Candidate], profile: ResearchProfile, keep: int | None = None
    ) -> list[RankedPassage]:
        # `keep`: stop once that many are chosen; fitting each passage costs a tokenizer call.
        return await rank_passages(
            query,
            candidates,
            embedder=self.embedder,
            budget_tokens=profile.evidence_tokens * 4,
            count_tokens=self.count_tokens,
            max_passages=keep,
        )

    async def _evidence(
        self, conversation: Conversation, profile: ResearchProfile, findings: Findings
    ) -> list[Evidence]:
        """The best passages for the question, cut to their best sentences.

        A multi-hop profile first takes, after the best passage, the pages the question names
        by title, then the pages those name (the bridge's page, as a hyperlink would lead),
        then the pages the leads found: an answer may need each of them.
        """
        question = conversation.search_text
        pool = [r.candidate for r in [*findings.ranked[: profile.evidence_passages * 2], *findings.hops]]
        first = [c.url for c in pool[:1]]
        if profile.rounds > 1:
            by_page: dict[str, list[Candidate]] = {}
            for c in [*pool, *findings.candidates.values()]:
                by_page.setdefault(c.url, []).append(c)
            runners_up = list(dict.fromkeys(r.url for r in findings.ranked[: profile.evidence_passages]))[1:]
            first = _linked_pages(question, first, by_page, findings, runners_up)[: profile.evidence_passages]
            # A page's best-ranked passages, or those its search found first: not all of a long page.
            pool += [c for url in first for c in by_page[url][:PASSAGES_PER_LINKED_PAGE]]
        chosen = await self._excerpts(question, pool, profile, first)
        relevance = await self.embedder.similarity(question, [f"{c.title}. {t}" for c, t, _ in chosen])
        return [
            Evidence(n, c.url, c.title, text, c.page_text or "", lead, relevance[n - 1], findings.led_from.get(c.url, ""))
            for n, (c, text, lead) in enumerate(chosen, start=1)
        ]

    async def _excerpts(
        self, query: str, passages: list[Candidate], profile: ResearchProfile, first: list[str]
    ) -> list[tuple[Candidate, str, str]]:
        """Up to the profile's count of (passage, excerpt, best sentence) within its token budget:
        the best of each page in `first`, then the best of the rest."""
        scored = await score_sentences(query, list(dict.fromkeys(passages)), embedder=self.embedder)
        best_of: dict[str, ScoredSentence] = {}
        for sentence in scored:
            best_of.setdefault(sentence.passage.url, sentence)
        order = [*(best_of[url] for url in first if url in best_of), *scored]
        chosen: list[tuple[Candidate, str, str]] = []
        done: set[int] = set()
        budget = profile.evidence_tokens
        for best in order:
            if len(chosen) == profile.evidence_passages or budget <= 0:
                break
            if id(best.passage) in done:
                continue
            done.add(id(best.passage))
            start, end = _excerpt_span(best, scored, profile.excerpt_sentences)
            c = best.passage
            text = c.text[start:end].strip()
            cost = self.count_tokens(text)
            # Every candidate carries its page (snippets were dropped in `_round`).
            if (cost > budget and chosen) or not verbatim(text, c.page_text or ""):
                continue
            budget -= cost
            chosen.append((c, text, best.text.strip()))
        return chosen


def _titled_leads(leads: list[str], found: list[Candidate]) -> set[str]:
    """The leads that some page found is titled by."""
    return {lead for lead in leads if any(title_names(c.title, lead) for c in found)}


def _hop_titled(title: str, lead: str, titled: set[str]) -> bool:
    """Whether the page titled `title` is where the lead `lead` leads: the page its name titles,
    else, for a lone surname no title is (not in `titled`: "the Nixon administration"), a
    person's page of that surname ("Richard Nixon"; of namesakes, ranking by the question picks)."""
    if title_names(title, lead):
        return True
    if " " in lead.strip() or lead in titled:
        return False
    words = bare_title(title).split()
    return 2 <= len(words) <= 3 and page_name(words[-1]) == page_name(lead)


def _connected(question: str, ranked: list[RankedPassage]) -> list[RankedPassage]:
    """The passages of pages connected to the question: the best page, the pages the question
    names by title, and the pages linked to the best either way. Another film's page saying "a
    movie directed by" explains nothing of "Jamie Harris's role in a movie directed by who?"."""
    if not ranked:
        return []
    best = ranked[0]
    return [r for r in ranked if r is best or names_title(question, r.title)
            or links_to(best.text, r.title) or links_to(r.text, best.title)]


def _linked_pages(
    question: str, best: list[str], by_page: Mapping[str, list[Candidate]], findings: Findings, runners_up: list[str]
) -> list[str]:
    """The best page, the pages the question names by title, the pages their best passages
    name (each recorded in `findings.led_from`), then the pages the leads found.

    A runner-up page (ranked high, not first) leads on only where the page it names explains
    words of the question that it leaves unexplained: "a festival presented by the fortnightly
    British journal of literary essays" is answered by the festival's page, which names the
    London Review of Books, whose page explains the rest.
    """
    titles = {url: passages[0].title for url, passages in by_page.items()}
    named = [url for url in titles if names_title(question, titles[url])]
    linked = []
    for linking in dict.fromkeys([*best, *named]):
        for url in titles:
            if url != linking and links_to(by_page[linking][0].text, titles[url]):
                linked.append(url)
                findings.led_from.setdefault(url, linking)
    asked = set(content_words(question))
    for linking in runners_up:
        text = by_page[linking][0].text
        unexplained = asked - set(content_words(f"{titles[linking]} {text}"))
        for url in titles:
            said = " ".join([titles[url], *(c.text for c in by_page[url][:PASSAGES_PER_LINKED_PAGE])])
            explains = len(unexplained & set(content_words(said))) >= MIN_WORDS_EXPLAINED
            if url != linking and links_to(text, titles[url]) and explains:
                linked += [linking, url]
                findings.led_from.setdefault(url, linking)
    return list(dict.fromkeys([*best, *named, *linked, *(r.url for r in findings.hops)]))


def _excerpt_span(best: ScoredSentence, scored: list[ScoredSentence], sentences: int) -> tuple[int, int]:
    """The best sentence, grown by its better-scoring neighbours until `sentences` long.

    A heading ("The Migration of Arctic Terns") is never a neighbour worth taking: the encoder
    finds it close to the question, yet it answers nothing and would crowd out the sentence
    after the best one.
    """
    text = best.passage.text
    score = {s.span: s.score for s in scored if s.passage is best.passage}
    spans = split_sentences(text)
    i = spans.index(best.span) if best.span in spans else 0

    def neighbour(k: int) -> float:
        if not 0 <= k < len(spans) or is_heading(text[spans[k][0] : spans[k][1]]):
            return -1.0
        return score.get(spans[k], 0.0)

    lo = hi = i
    while hi - lo + 1 < sentences:
        left, right = neighbour(lo - 1), neighbour(hi + 1)
        if left < 0 and right < 0:
            break
        if right >= left:
            hi += 1
        else:
            lo -= 1
    return spans[lo][0], spans[hi][1]
