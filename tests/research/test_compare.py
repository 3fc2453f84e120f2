"""A choice between two things by date or by count is made from the figures their pages give."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.real_engine import ANSWER_SCHEMA, research_events

from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.compare import Choice, by_count, by_date, read_compared
from deepcite.research.events import Basis, Progress
from deepcite.research.evidence import Evidence


def page(number: int, title: str, text: str) -> Evidence:
    return Evidence(number, f"https://w.example/{title.replace(' ', '_')}", title, text, text)


TAYGAN = page(1, "Ferdi Taygan", "Ferdi Taygan (born December 5, 1956), is a former professional tennis player.")
BHUPATHI = page(2, "Mahesh Bhupathi", "Mahesh Shrinivas Bhupathi (born 7 June 1974) is an Indian tennis player.")
KOYAANISQATSI = page(3, "Koyaanisqatsi", "Koyaanisqatsi is a 1982 American experimental film directed by Godfrey Reggio.")
BALLROOM = page(4, "Mad Hot Ballroom", "Mad Hot Ballroom is a 2005 American documentary film directed by Marilyn Agrelo.")


def test_the_earlier_or_later_year_chooses_and_both_pages_back_it() -> None:
    assert by_date("Who is older, Ferdi Taygan or Mahesh Bhupathi?", [BHUPATHI, TAYGAN]) == Choice(
        "Ferdi Taygan", [TAYGAN, BHUPATHI], "Ferdi Taygan: 1956, Mahesh Bhupathi: 1974"
    )
    older = by_date("Who was born first, Mahesh Bhupathi or Ferdi Taygan?", [TAYGAN, BHUPATHI])
    assert older is not None and older.choice == "Ferdi Taygan"
    recent = "Which film was created more recently, Koyaanisqatsi or Mad Hot Ballroom?"
    assert by_date(recent, [KOYAANISQATSI, BALLROOM]) == Choice(
        "Mad Hot Ballroom", [BALLROOM, KOYAANISQATSI], "Koyaanisqatsi: 1982, Mad Hot Ballroom: 2005"
    )


def test_the_model_reads_when_the_question_or_the_evidence_cannot_decide() -> None:
    pages = [TAYGAN, BHUPATHI]
    assert by_date("Who is older, Ferdi Taygan or Pete Sampras?", pages) is None  # no page for one choice
    assert by_date("Who died first, Ferdi Taygan or Mahesh Bhupathi?", pages) is None  # both alive
    assert by_date("Who won more titles, Ferdi Taygan or Mahesh Bhupathi?", pages) is None  # not a date
    assert by_date("Who was the first tennis player to win, Ferdi Taygan or Mahesh Bhupathi?", pages) is None
    same_year = page(5, "Mahesh Bhupathi", "Mahesh Bhupathi (born 1956) is an Indian tennis player.")
    assert by_date("Who is older, Ferdi Taygan or Mahesh Bhupathi?", [TAYGAN, same_year]) is None


def test_a_choice_the_sources_spell_otherwise_is_answered_in_the_question_s_spelling() -> None:
    haq = page(15, "Mahbub ul Haq", "Mahbub ul Haq (22 February 1934 – 16 July 1998) was a Pakistani economist.")
    arabi = page(16, "Ibn Arabi", "Muḥammad ibn ʿAlī ibnʿArabī (1165–1240) was an Andalusian Sufi mystic.")
    # No comma after the ask either: "born first Mahbub ul Haq" is not a choice.
    reading = read_compared("Who was born first Mahbub ul Haq or Ibn Arabi?", [haq, arabi])
    assert reading is not None and reading.answer == "Ibn Arabi" and reading.sources == [arabi, haq]
    assert reading.worked_out == "compared what each page gives (Mahbub ul Haq: 1934, Ibn Arabi: 1165)"


def test_who_died_first_compares_the_year_after_the_dash() -> None:
    archainbaud = page(6, "George Archainbaud", "George Archainbaud (May 7, 1890 – February 20, 1959) was a director.")
    murphy = page(7, "Ralph Murphy", "Ralph Murphy (May 1, 1895 – February 10, 1967) was an American film director.")
    assert by_date("Who died first, Ralph Murphy or George Archainbaud?", [murphy, archainbaud]) == Choice(
        "George Archainbaud", [archainbaud, murphy], "Ralph Murphy: 1967, George Archainbaud: 1959"
    )
    # Born first is the other year.
    born = by_date("Who was born first, Ralph Murphy or George Archainbaud?", [murphy, archainbaud])
    assert born is not None and born.choice == "George Archainbaud"


def test_a_span_whose_dash_was_lost_still_gives_both_years() -> None:
    # HotpotQA tune: the corpus writes "(14 August 193322 November 2012)"; the model, left to
    # read it, answered "Bryce Courtenay" (died 2012) as dying before Onetti (died 1994).
    courtenay = page(8, "Bryce Courtenay", "Bryce Courtenay, AM (14 August 193322 November 2012) was a novelist.")
    onetti = page(9, "Juan Carlos Onetti", "Juan Carlos Onetti Borges (July 1, 1909, Montevideo – May 30, 1994, "
                  "Madrid) was an Uruguayan novelist.")
    assert by_date("Who died first, Bryce Courtenay or Juan Carlos Onetti?", [courtenay, onetti]) == Choice(
        "Juan Carlos Onetti", [onetti, courtenay], "Bryce Courtenay: 2012, Juan Carlos Onetti: 1994"
    )
    born = by_date("Who was born later, Bryce Courtenay or Juan Carlos Onetti?", [courtenay, onetti])
    assert born is not None and born.choice == "Bryce Courtenay"
    assert by_date("Who was born later, Bryce Courtenay or Juan Carlos Onetti?", [
        page(8, "Bryce Courtenay", "Bryce Courtenay has 193322 readers."), onetti
    ]) is None


def test_more_of_a_thing_compares_the_numbers_each_page_gives_of_it() -> None:
    # HotpotQA: the model chose by the name, not the count.
    aichryson = page(8, "Aichryson", "Aichryson is a genus of about 15 species of succulent plants.")
    polypodium = page(9, "Polypodium", "Polypodium is a genus of 75–100 species of true ferns.")
    xanthoceras = page(10, "Xanthoceras", "Xanthoceras sorbifolium is the only species in the genus Xanthoceras.")
    assert by_count("Which has more species, Aichryson or Polypodium?", [aichryson, polypodium]) == Choice(
        "Polypodium", [polypodium, aichryson], "Aichryson: 15, Polypodium: 75"
    )
    fewer = by_count("Which genus has fewer species, Aichryson or Xanthoceras?", [aichryson, xanthoceras])
    assert fewer is not None and fewer.choice == "Xanthoceras"
    # No comma: what is counted ends where the choices begin. A year before the count is no count.
    red = page(11, "Candlelight Red", "Candlelight Red is a band. In 2011 two studio albums followed.")
    city = page(12, "Motion City Soundtrack", "The group toured and released six studio albums.")
    albums = by_count("Who has released more studio albums Candlelight Red or Motion City Soundtrack?", [red, city])
    assert albums is not None and albums.choice == "Motion City Soundtrack"


def test_a_count_the_pages_do_not_give_is_left_to_the_model() -> None:
    futureheads = page(13, "The Futureheads", "The Futureheads are an English post-punk band from Sunderland.")
    marcy = page(14, "Marcy Playground", "Marcy Playground is a rock band consisting of three members.")
    assert by_count("Which band has more members, The Futureheads or Marcy Playground?", [futureheads, marcy]) is None
    assert by_count("Which magazine is published more often, Marcy Playground or The Futureheads?", [marcy]) is None
    assert by_count("Who was a more acclaimed guitarist, Marcy Playground or The Futureheads?", [marcy]) is None


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
    events = await research_events(tmp_path / "index.sqlite3", embedder, pages, question)
    assert any(isinstance(e, Progress) and "compared what each page gives" in e.message for e in events)
    basis = next(e for e in events if isinstance(e, Basis))
    first = basis.content.split(". ")[0]
    assert "Sinclair Hill" in first and not first.startswith("Robert")
    assert set(pages) <= {c.url for field in basis.basis for c in field.citations}


async def test_a_json_answer_to_a_date_choice_is_the_choice_alone(tmp_path: Path, embedder: SentenceEncoder) -> None:
    # HotpotQA tune: told the answer, the JSON fill still wrote "Terry Richardson is older than
    # Annie Morton"; an {"answer": string} is now the choice itself, with no fill.
    pages = {
        "https://w.example/Annie_Morton": ("Annie Morton", "Annie Morton (born October 8, 1970) is an American "
                                           "model born in Pennsylvania."),
        "https://w.example/Terry_Richardson": ("Terry Richardson", 'Terrence "Uncle Terry" Richardson (born August '
                                               "14, 1965) is an American fashion and portrait photographer."),
    }
    question = "Who is older, Annie Morton or Terry Richardson?"
    events = await research_events(tmp_path / "index.sqlite3", embedder, pages, question, json_schema=ANSWER_SCHEMA)
    basis = next(e for e in events if isinstance(e, Basis))
    assert json.loads(basis.content) == {"answer": "Terry Richardson"}
    assert set(pages) <= {c.url for field in basis.basis for c in field.citations}
