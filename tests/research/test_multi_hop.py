"""Multi-hop research: the second document is reachable only through the first."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.multi_hop import FOUNDER, PAGES, PRIZE, QUESTION
from tests.support.real_engine import ANSWER_SCHEMA, research_events

from deepcite.llm.base import ChatMessage
from deepcite.llm.embedded import EmbeddedModel
from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.conversation import read_conversation
from deepcite.research.engine import ResearchEngine, is_bridge
from deepcite.research.events import Basis
from deepcite.research.evidence import Evidence
from deepcite.research.gather import Findings, Researcher, _hop_titled, _linked_pages, _titled_leads
from deepcite.research.planner import first_queries
from deepcite.research.profiles import PROFILES
from deepcite.research.ranking import Candidate
from deepcite.research.reader import locate
from deepcite.research.request import ResearchRequest
from deepcite.research.writer import AnswerWriter, Claim
from deepcite.search.local_index import LocalIndex


@contextlib.asynccontextmanager
async def indexed(path: Path, pages: dict[str, tuple[str, str]]) -> AsyncIterator[LocalIndex]:
    """A real index of `pages`, closed on leaving."""
    async with LocalIndex(path) as local:
        for url, (title, text) in pages.items():
            await local.upsert(url, title, text, "test")
        yield local


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[LocalIndex]:
    async with indexed(tmp_path / "index.sqlite3", PAGES) as local:
        yield local


async def gather(index: LocalIndex, embedder: SentenceEncoder, model: str, question: str = QUESTION) -> Findings:
    researcher = Researcher([index], embedder, lambda text: len(text) // 4)
    findings = Findings()
    async for _ in researcher.gather(read_conversation([ChatMessage("user", question)]), PROFILES[model], findings):
        pass
    return findings


async def test_the_question_alone_does_not_find_the_second_document(index: LocalIndex, embedder: SentenceEncoder) -> None:
    findings = await gather(index, embedder, "lite")
    assert PRIZE in {e.url for e in findings.evidence}
    assert FOUNDER not in {e.url for e in findings.evidence}


async def test_core_follows_the_bridge_entity_to_the_second_document(index: LocalIndex, embedder: SentenceEncoder) -> None:
    findings = await gather(index, embedder, "core")
    assert "Mira Castellan" in findings.leads
    urls = {e.url for e in findings.evidence}
    assert {PRIZE, FOUNDER} <= urls


async def test_core_answer_cites_both_hops_verbatim(index: LocalIndex, embedder: SentenceEncoder) -> None:
    model = EmbeddedModel()  # the default model: this is about the answer
    await model.load()  # before the research clock starts
    engine = ResearchEngine(Researcher([index], embedder, model.count_tokens), model)
    events = [e async for e in engine.run(ResearchRequest("core", [ChatMessage("user", QUESTION)]))]
    basis = next(e for e in events if isinstance(e, Basis))
    assert "Vellport" in basis.content.split(".")[0]
    cited = {c.url: c for field in basis.basis for c in field.citations}
    assert {PRIZE, FOUNDER} <= set(cited)
    for url, citation in cited.items():
        for excerpt in citation.excerpts:
            assert excerpt in PAGES[url][1]
    await model.aclose()


def test_question_words_are_not_taken_for_entities() -> None:
    queries = first_queries("What did Nikola Tesla invent in Colorado Springs?", 5)
    assert '"What"' not in " ".join(queries)
    assert any(q.startswith('"Nikola Tesla"') for q in queries)
    assert any(q.startswith('"Colorado Springs"') for q in queries)


def test_a_lead_is_taken_for_the_bridge_only_when_its_own_page_was_read() -> None:
    # The founder's page is in the evidence: the answer may be there, so the model reads again.
    founder = Evidence(1, FOUNDER, "Mira Castellan", PAGES[FOUNDER][1], PAGES[FOUNDER][1])
    assert is_bridge("Mira Castellan", QUESTION, ["Mira Castellan", "Vellport Academy"], [founder])
    # A lead that names the answer, with no page of its own, is just the answer.
    assert not is_bridge("Vellport Academy", QUESTION, ["Mira Castellan", "Vellport Academy"], [founder])
    assert not is_bridge("Vellport", QUESTION, ["Mira Castellan"], [founder])
    # An answer that opens with the lead names it, with more words after.
    assert is_bridge("Mira Castellan (founder", QUESTION, ["Mira Castellan"], [founder])
    assert not is_bridge("Mira Castellanos", QUESTION, ["Mira Castellan"], [founder])
    # One of the choices a question offers is what it asks for (HotpotQA: re-read, "Langston
    # Hughes or Ian McEwan" flipped to the other).
    choice = "Who founded more schools, Mira Castellan or Tomas Reyne?"
    assert not is_bridge("Mira Castellan", choice, ["Mira Castellan"], [founder])


def test_a_runner_up_page_leads_on_only_to_a_page_that_explains_the_rest_of_the_question() -> None:
    question = ("In what month is the documentary festival presented by the fortnightly British journal "
                "of literary essays held?")
    pages = {
        "https://w.example/NHdocs": ("New Haven Documentary Film Festival",
                                     "NHdocs is a documentary festival held in June at Yale University."),
        "https://w.example/LIDF": ("London International Documentary Festival",
                                   "The festival is held in March. It is presented with the London Review of Books "
                                   "and the London Film School."),
        "https://w.example/LRB": ("London Review of Books", "The London Review of Books is a British journal "
                                  "of literary essays, published fortnightly."),
        "https://w.example/LFS": ("London Film School", "The London Film School is a school in Covent Garden."),
        "https://w.example/Yale": ("Yale University", "Yale University is a private university in New Haven."),
    }
    by_page = {url: [Candidate(url, title, text, text, 0)] for url, (title, text) in pages.items()}
    findings = Findings()
    first = ["https://w.example/NHdocs"]
    order = _linked_pages(question, first, by_page, findings, ["https://w.example/LIDF"])
    # The best page's links are all taken; the runner-up's only where they explain the question.
    assert order == [*first, "https://w.example/Yale", "https://w.example/LIDF", "https://w.example/LRB"]
    assert findings.led_from["https://w.example/LRB"] == "https://w.example/LIDF"


async def test_base_follows_the_lead_when_only_an_unrelated_page_explains_the_rest(
    tmp_path: Path, embedder: SentenceEncoder
) -> None:
    # HotpotQA tune q205: another film's page said "a movie directed by", so no lead was followed.
    pages = {
        "https://w.example/Jamie_Harris": ("Jamie Harris (actor)", "Jamie Harris (born May 15, 1963) is a British "
                                           "actor. He is best known for his role as The Hook-Handed Man in "
                                           '"The Wide Window".'),
        "https://w.example/The_Wide_Window": ("The Wide Window", "The Wide Window is a 2004 comedy film directed by "
                                              "Brad Silberling."),
        "https://w.example/Badla": ("Badla Jatti Da", "Badla Jatti Da is a 1991 Punjabi action movie directed by "
                                    "Ravinder Ravi. It is best known for Gugu Gill's role."),
    }
    question = "Jamie Harris is best known for his role as The Hook-Handed Man in a movie directed by who?"
    async with indexed(tmp_path / "index.sqlite3", pages) as local:
        findings = await gather(local, embedder, "base", question)
    assert "Wide Window" in findings.leads
    assert "https://w.example/The_Wide_Window" in {e.url for e in findings.evidence}


def test_a_lead_that_is_a_surname_leads_to_a_person_s_page_when_no_page_is_titled_so() -> None:
    # HotpotQA tune: "during the Nixon administration"; no page is titled "Nixon".
    found = [Candidate(f"https://w.example/{n}", title, "text", "text", 0)
             for n, title in enumerate(["Richard Nixon", "United States v. Nixon", "Nixon (film)"])]
    untitled = _titled_leads(["Nixon", "Tricia Nixon"], found[:2])
    assert _hop_titled("Richard Nixon", "Nixon", untitled)
    assert not _hop_titled("United States v. Nixon", "Nixon", untitled)
    # A page titled by the lead is the hop, and the namesakes are not.
    assert not _hop_titled("Richard Nixon", "Nixon", _titled_leads(["Nixon"], found))
    assert not _hop_titled("Richard Nixon", "Tricia Nixon", untitled)


async def test_an_answer_that_titles_a_page_is_quoted_from_that_page(tmp_path: Path, embedder: SentenceEncoder) -> None:
    # HotpotQA report: "Texas Tech University" was read from the team's page; its own page,
    # the second the question needs, was never cited.
    team = "https://w.example/1974_team"
    university = "https://w.example/Texas_Tech_University"
    pages = {
        team: ("1974 Texas Tech Red Raiders football team", "The 1974 Texas Tech Red Raiders football team "
               "represented Texas Tech University in the Southwest Conference."),
        university: ("Texas Tech University", "Founded in 1923, it has 36,000 students. Texas Tech University is a "
                     "public research university in Lubbock, Texas."),
        "https://w.example/Texas_Tech_University_(album)": ("Texas Tech University (album)", "Texas Tech "
                                                            "University is a 1990 album by a band from Lubbock."),
    }
    question = "The 1974 Texas Tech Raiders football team represented what public research university?"
    async with indexed(tmp_path / "index.sqlite3", pages) as local:
        researcher = Researcher([local], embedder, lambda text: len(text) // 4)
        own = await researcher.page_about("Texas Tech University", question, pages[team][1], 2)
        assert await researcher.page_about("Vellport Academy", question, pages[team][1], 2) is None
    # Its own page, not the album of that name, by the sentence that says what it is.
    assert own is not None and own.url == university and own.number == 2
    assert own.text == "Texas Tech University is a public research university in Lubbock, Texas."
    # Quoted even where the team's page explains every word of the question.
    asked = "Which university did the 1974 Texas Tech Red Raiders football team represent?"
    found = Evidence(1, team, pages[team][0], pages[team][1], pages[team][1], relevance=0.7)
    writer = AnswerWriter([found, own], asked, max_sentences=4)
    reading = locate("Texas Tech University", writer.evidence, asked)
    writer.emit(Claim("Texas Tech University.", [(found, 1.0)]))
    quoted = [e.url for claim in writer.supporting_quotes(reading) for e, _ in claim.support]
    assert quoted == [team, university]


# Two-hop questions base answers from the second page, citing both. HotpotQA tune:
_BOTH_HOPS = {
    # the model twice named "Ethiopia", the question's own word, and base abstained; asked for
    # a sentence, it states what the battle secured.
    "left open": (
        {
            "https://w.example/Giuseppe_Arimondi": (
                "Giuseppe Arimondi",
                "Giuseppe Edoardo Arimondi (Savigliano, 26 April 1846 – Adwa, 1 March 1896) was an Italian general, "
                "mostly known for his role during the First Italo-Ethiopian War. After a long colonial service, he "
                "died in combat at Adwa, and was posthumously awarded the Gold Medal of Military Valor.",
            ),
            "https://w.example/Battle_of_Adwa": (
                "Battle of Adwa",
                "The Battle of Adwa was fought on 2 March 1896 between the Ethiopian Empire and the Kingdom of Italy "
                "near the town of Adwa, Ethiopia, in Tigray. This climactic battle of the First Italo-Ethiopian War, "
                "was a decisive defeat for Italy and secured Ethiopian sovereignty.",
            ),
        },
        "The battle in which Giuseppe Arimondi lost his life secured what for Ethiopia?",
        "sovereignty",
    ),
    # "Bill Clinton" was taken for the link to the answer; read again, the model said
    # "Arkansas", the question's own word, and base abstained: the link was the answer.
    "the link is the answer": (
        {
            "https://w.example/Robert_Suettinger": (
                "Robert Suettinger",
                "Robert Suettinger was United States President Bill Clinton's national intelligence officer for East "
                "Asia at the National Intelligence Council (NIC) from 1997-1998. While there, Suettinger oversaw the "
                "preparation of national intelligence estimates for the director of the Central Intelligence Agency.",
            ),
            "https://w.example/Bill_Clinton": (
                "Bill Clinton",
                "William Jefferson Clinton (born William Jefferson Blythe III; August 19, 1946) is an American politician "
                "who served as the 42nd President of the United States from 1993 to 2001. Prior to the presidency, he "
                "was the Governor of Arkansas during two separate terms, from 1979 to 1981, and again from 1983 to 1992.",
            ),
        },
        "Robert Suettinger was the national intelligence officer under which former Governor of Arkansas?",
        "Clinton",
    ),
}


@pytest.mark.parametrize("case", list(_BOTH_HOPS))
async def test_base_answers_from_the_second_page_and_cites_both_hops(
    case: str, tmp_path: Path, embedder: SentenceEncoder
) -> None:
    pages, question, answer = _BOTH_HOPS[case]
    events = await research_events(tmp_path / "index.sqlite3", embedder, pages, question)
    basis = next(e for e in events if isinstance(e, Basis))
    assert answer in basis.content.split(".")[0]
    assert set(pages) <= {c.url for field in basis.basis for c in field.citations}


async def test_a_json_answer_without_the_number_asked_for_is_read_again(
    tmp_path: Path, embedder: SentenceEncoder
) -> None:
    # HotpotQA tune: the JSON fill named the chain ("Carrefour") where the question asks how many.
    pages = {
        "https://w.example/Euromarche": (
            "Euromarché",
            'Euromarché ("Euromarket") was a French hypermarket chain. The first store opened in 1968 in '
            "Saint-Michel-sur-Orge. In June 1991, the group was rebought by its rival, Carrefour, for 5,2 billion francs.",
        ),
        "https://w.example/Carrefour": (
            "Carrefour",
            "Carrefour S.A. is a French multinational retailer headquartered in Boulogne Billancourt, France. It is "
            "one of the largest hypermarket chains in the world (with 1,462 hypermarkets at the end of 2016).",
        ),
    }
    question = "In 1991 Euromarché was bought by a chain that operated how many hypermarkets at the end of 2016?"
    events = await research_events(tmp_path / "index.sqlite3", embedder, pages, question, json_schema=ANSWER_SCHEMA)
    basis = next(e for e in events if isinstance(e, Basis))
    assert "1,462" in json.loads(basis.content)["answer"]
