"""A choice between two things by date is made from the years their pages give."""

from __future__ import annotations

from pathlib import Path

from deepcite.llm.base import ChatMessage
from deepcite.llm.embedded import EmbeddedModel
from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.compare import by_date
from deepcite.research.engine import ResearchEngine
from deepcite.research.events import Basis, Progress
from deepcite.research.evidence import Evidence
from deepcite.research.gather import Researcher
from deepcite.research.request import ResearchRequest
from deepcite.search.local_index import LocalIndex


def page(number: int, title: str, text: str) -> Evidence:
    return Evidence(number, f"https://w.example/{title.replace(' ', '_')}", title, text, text)


TAYGAN = page(1, "Ferdi Taygan", "Ferdi Taygan (born December 5, 1956), is a former professional tennis player.")
BHUPATHI = page(2, "Mahesh Bhupathi", "Mahesh Shrinivas Bhupathi (born 7 June 1974) is an Indian tennis player.")
KOYAANISQATSI = page(3, "Koyaanisqatsi", "Koyaanisqatsi is a 1982 American experimental film directed by Godfrey Reggio.")
BALLROOM = page(4, "Mad Hot Ballroom", "Mad Hot Ballroom is a 2005 American documentary film directed by Marilyn Agrelo.")


def test_the_earlier_or_later_year_chooses_and_both_pages_back_it() -> None:
    assert by_date("Who is older, Ferdi Taygan or Mahesh Bhupathi?", [BHUPATHI, TAYGAN]) == (
        "Ferdi Taygan", [TAYGAN, BHUPATHI]
    )
    assert by_date("Who was born first, Mahesh Bhupathi or Ferdi Taygan?", [TAYGAN, BHUPATHI])[0] == "Ferdi Taygan"
    recent = "Which film was created more recently, Koyaanisqatsi or Mad Hot Ballroom?"
    assert by_date(recent, [KOYAANISQATSI, BALLROOM]) == ("Mad Hot Ballroom", [BALLROOM, KOYAANISQATSI])


def test_the_model_reads_when_the_question_or_the_evidence_cannot_decide() -> None:
    pages = [TAYGAN, BHUPATHI]
    assert by_date("Who is older, Ferdi Taygan or Pete Sampras?", pages) is None  # no page for one choice
    assert by_date("Who died first, Ferdi Taygan or Mahesh Bhupathi?", pages) is None  # not the page's first year
    assert by_date("Who won more titles, Ferdi Taygan or Mahesh Bhupathi?", pages) is None  # not a date
    assert by_date("Who was the first tennis player to win, Ferdi Taygan or Mahesh Bhupathi?", pages) is None
    same_year = page(5, "Mahesh Bhupathi", "Mahesh Bhupathi (born 1956) is an Indian tennis player.")
    assert by_date("Who is older, Ferdi Taygan or Mahesh Bhupathi?", [TAYGAN, same_year]) is None


async def test_base_answers_a_date_choice_from_the_years_and_cites_both_pages(
    tmp_path: Path, embedder: SentenceEncoder
) -> None:
    # HotpotQA tune: the model read "Robert Z. Leonard" (born 1889) as the younger of him and
    # Sinclair Hill (born 1894).
    pages = {
        "https://w.example/Leonard": ("Robert Z. Leonard", "Robert Zigler Leonard (October 7, 1889 – August 27, "
                                      "1968) was an American film director, actor, producer and screenwriter."),
        "https://w.example/Hill": ("Sinclair Hill", "George Sinclair Hill (1894–1945) was a British screenwriter, "
                                   "film producer and film director."),
    }
    question = "Which film director is younger, Robert Z. Leonard or Sinclair Hill?"
    model = EmbeddedModel()
    await model.load()
    async with LocalIndex(tmp_path / "index.sqlite3") as local:
        for url, (title, text) in pages.items():
            await local.upsert(url, title, text, "test")
        engine = ResearchEngine(Researcher([local], embedder, model.count_tokens), model)
        events = [e async for e in engine.run(ResearchRequest("base", [ChatMessage("user", question)]))]
    await model.aclose()
    assert any(isinstance(e, Progress) and "years" in e.message for e in events)
    basis = next(e for e in events if isinstance(e, Basis))
    first = basis.content.split(". ")[0]
    assert "Sinclair Hill" in first and not first.startswith("Robert")
    assert set(pages) <= {c.url for field in basis.basis for c in field.citations}
