"""A question about two things ("both", "the same", "which of A or B") is read one thing at a time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.support.real_engine import research_events

from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.events import Basis, Progress
from deepcite.research.evidence import Evidence
from deepcite.research.sides import two_sides


def page(number: int, title: str, text: str) -> Evidence:
    return Evidence(number, f"https://w.example/{title.replace(' ', '_')}", title, text, text)


LA_CAVA = page(1, "Gregory La Cava", "Gregory La Cava (1892–1952) was an American film director.")
JUDGE = page(2, "Mike Judge", "Mike Judge (born 1962) is an American actor, animator and writer.")


def test_the_two_things_are_the_pages_named_around_the_and() -> None:
    sides = two_sides("Were Gregory La Cava and Mike Judge both actors?", [JUDGE, LA_CAVA])
    assert sides is not None
    assert sides.names == ("Gregory La Cava", "Mike Judge") and sides.pages == (LA_CAVA, JUDGE)
    assert sides.kind == "both"
    assert sides.asked_of("Mike Judge") == "Were Mike Judge actors?"
    same = two_sides("Were Gregory La Cava and Mike Judge of the same nationality?", [LA_CAVA, JUDGE])
    assert same is not None and same.kind == "same" and same.shared == "nationality"
    # A page the question names elsewhere is no side; a title's disambiguation is no part of its name.
    china = page(3, "China", "China is a country in East Asia.")
    ganzhou = page(4, "Ganzhou", "Ganzhou is a city in Jiangxi, China.")
    jimo = page(5, "Jimo District", "Jimo is a district of Qingdao, China.")
    sides = two_sides("Are Ganzhou and Jimo District both located in China?", [china, jimo, ganzhou])
    assert sides is not None and sides.pages == (ganzhou, jimo)
    film = page(8, "Mike Judge (film)", "Mike Judge is a 2001 film.")
    sides = two_sides("Were Gregory La Cava and Mike Judge of the same nationality?", [film, LA_CAVA, JUDGE])
    assert sides is not None and sides.pages == (LA_CAVA, JUDGE)  # the person's page, not the film's
    agee = page(6, "Agee (film)", "Agee is a 1980 documentary film.")
    elephant = page(7, "To Shoot an Elephant", "To Shoot an Elephant is a 2009 documentary about Gaza.")
    sides = two_sides("Are both Agee and To Shoot an Elephant documentaries about war?", [elephant, agee])
    assert sides is not None and sides.asked_of("To Shoot an Elephant") == (
        "Are To Shoot an Elephant documentaries about war?"
    )
    # Not a question about two things, or no page for one of them: read whole.
    assert two_sides("Who were Gregory La Cava and Mike Judge?", [LA_CAVA, JUDGE]) is None
    assert two_sides("Was Gregory La Cava an actor?", [LA_CAVA, JUDGE]) is None
    assert two_sides("Were Gregory La Cava and Ed Wood both actors?", [LA_CAVA, JUDGE]) is None


def test_a_choice_by_a_property_is_asked_of_each_page_but_not_a_choice_by_degree() -> None:
    sides = two_sides("Which director was also an actor, the Gregory La Cava or Mike Judge?", [JUDGE, LA_CAVA])
    assert sides is not None and sides.kind == "choice"
    assert sides.names == ("Gregory La Cava", "Mike Judge") and sides.pages == (LA_CAVA, JUDGE)
    assert two_sides("Which director is older, Gregory La Cava or Mike Judge?", [JUDGE, LA_CAVA]) is None
    assert two_sides("Who made more films, Gregory La Cava or Mike Judge?", [JUDGE, LA_CAVA]) is None
    bound = two_sides("Who made more than 30 films, Gregory La Cava or Mike Judge?", [JUDGE, LA_CAVA])
    assert bound is not None and bound.kind == "choice"
    assert two_sides("Which director was also an actor, Gregory La Cava or Ed Wood?", [JUDGE, LA_CAVA]) is None
    chosen = sides.reading(["No.", "Yes"])
    assert chosen is not None and chosen.answer == "Mike Judge" and chosen.sources == [JUDGE, LA_CAVA]
    assert sides.reading(["Yes", "Yes"]) is None  # both or neither: the model reads the question whole
    assert sides.reading(["No", "No"]) is None


def test_a_tie_goes_to_the_page_holding_clearly_more_of_the_question_s_words() -> None:
    # HotpotQA tune: the model said "no" of both; only Howard Fast's page names the pen name.
    fast = page(3, "Howard Fast", "Howard Fast was an American novelist. Fast also wrote under the pen names "
                "E. V. Cunningham and Walter Ericson.")
    esquivel = page(4, "Laura Esquivel", "Laura Esquivel is a Mexican novelist and screenwriter.")
    question = "Which novelist wrote under the pen name Walter Ericson: Laura Esquivel or Howard Fast?"
    sides = two_sides(question, [esquivel, fast])
    assert sides is not None and sides.kind == "choice"
    chosen = sides.reading(["No", "No"])
    assert chosen is not None and chosen.answer == "Howard Fast" and chosen.sources == [fast, esquivel]
    assert "Howard Fast's page holds more of the question's words" in chosen.worked_out
    # A margin of one word is no evidence either way: the model reads the question whole.
    near = page(5, "Laura Esquivel", "Laura Esquivel, a novelist, wrote under the pen name Walter.")
    close = two_sides(question, [near, fast])
    assert close is not None and close.reading(["Yes", "Yes"]) is None


def test_the_verdict_is_a_rule_over_the_two_replies() -> None:
    both = two_sides("Were Gregory La Cava and Mike Judge both actors?", [LA_CAVA, JUDGE])
    same = two_sides("Were Gregory La Cava and Mike Judge from the same city?", [LA_CAVA, JUDGE])
    assert both is not None and same is not None
    assert both.reading(["No.", "Yes"]).answer == "no"  # type: ignore[union-attr]
    assert both.reading(["Yes.", "yes"]).answer == "yes"  # type: ignore[union-attr]
    assert both.reading(["Yes", "He was a director"]) is None  # not a yes or no: the model reads whole
    assert same.reading(["Buffalo, New York", "Buffalo"]).answer == "yes"  # type: ignore[union-attr]
    assert same.reading(["Buffalo", "Chino, California"]).answer == "no"  # type: ignore[union-attr]
    assert same.reading(["Buffalo", "NOT FOUND"]) is None
    verdict = same.reading(["Buffalo", "Chino"])
    assert verdict is not None and verdict.sources == [LA_CAVA, JUDGE]  # both pages back it


def test_what_two_things_have_in_common_is_what_both_readings_share() -> None:
    # HotpotQA tune: asked whole, the model named Bob Marley ("Robert Nesta Marley").
    hetfield = page(1, "James Hetfield", "James Alan Hetfield is an American musician, singer, and songwriter.")
    marley = page(2, "Bob Marley", "Robert Nesta Marley was a Jamaican singer, songwriter and musician.")
    sides = two_sides("What are both James Hetfield and Bob Marley?", [marley, hetfield])
    assert sides is not None and sides.kind == "common" and sides.asked_of("Bob Marley") == "What are Bob Marley?"
    common = sides.reading(["American musician, singer, and songwriter", "Jamaican singer, songwriter and musician"])
    assert common is not None and common.answer == "musician, singer, and songwriter"
    assert {e.url for e in common.sources} == {hetfield.url, marley.url}
    asked = two_sides("What occupation do Gregory La Cava and Mike Judge share?", [LA_CAVA, JUDGE])
    assert asked is not None and asked.kind == "common"
    # Of the two runs, the one with fewer words besides the shared ones (the other names a nationality).
    curtis = page(3, "Peter Curtis", "Peter Curtis is a former British professional tennis player.")
    draper = page(4, "Scott Draper", "Scott Draper is an Australian former professional tennis player.")
    players = two_sides("Peter Curtis and Scott Draper are both what?", [curtis, draper])
    assert players is not None
    shared = players.reading(["former British professional tennis player", "Australian former professional tennis player"])
    assert shared is not None and shared.answer == "former professional tennis player"
    assert players.reading(["tennis player", "golfer"]) is None  # nothing shared: the model reads whole
    assert two_sides("Which of Peter Curtis and Scott Draper both won, A or B?", [curtis, draper]) is None
    assert two_sides("Both Peter Curtis and Scott Draper are golfers?", [curtis, draper]) is None


_GOO_GOO_DOLLS = {  # HotpotQA tune: asked whole, the model said "yes".
    "https://w.example/Goo_Goo_Dolls": (
        "Goo Goo Dolls",
        "The Goo Goo Dolls are an American rock band formed in 1986 in Buffalo, New York, by guitarist Johnny Rzeznik.",
    ),
    "https://w.example/Echosmith": (
        "Echosmith",
        "Echosmith is an American indie pop band formed in February 2009 in Chino, California, by the Sierota siblings.",
    ),
}
_FIREFLIGHT = {  # HotpotQA: asked whole, the model answered "Fireflight".
    "https://w.example/Fireflight": (
        "Fireflight",
        "Fireflight is an American Christian rock band formed in "
        "Eustis, Florida in 1999. The band is signed by Flicker Records.",
    ),
    "https://w.example/DPT": (
        "Dirty Pretty Things (band)",
        "Dirty Pretty Things were an English band fronted by Carl Barât, a member of The Libertines.",
    ),
}
_HETFIELD = {  # HotpotQA tune: asked whole, the model answered with Bob Marley's full name.
    "https://w.example/Hetfield": (
        "James Hetfield",
        "James Alan Hetfield (born August 3, 1963) is an American musician, singer, and songwriter known for "
        "being the co-founder, lead vocalist, rhythm guitarist, and main songwriter for the heavy metal band Metallica.",
    ),
    "https://w.example/Marley": (
        "Bob Marley",
        "Robert Nesta Marley (6 February 1945 – 11 May 1981) was a Jamaican singer, songwriter and musician.",
    ),
}


@pytest.mark.parametrize(
    ("pages", "question", "replies", "opening"),
    [
        (_GOO_GOO_DOLLS, "Were Goo Goo Dolls and Echosmith formed in the same city?", ["Buffalo", "Chino"], r"^no\b"),
        (_FIREFLIGHT, "Which band is from England, Fireflight or Dirty Pretty Things?", ["Dirty Pretty Things: Yes"],
         r"^Dirty Pretty Things"),
        (_HETFIELD, "What are both James Hetfield and Bob Marley?", ["James Hetfield:", "Bob Marley:"],
         r"^(?!.*Robert Nesta Marley).*(musician|singer)"),
    ],
    ids=["same", "choice", "common"],
)
async def test_base_reads_each_side_on_its_own_page_and_cites_both(
    tmp_path: Path, embedder: SentenceEncoder, pages: dict[str, tuple[str, str]], question: str,
    replies: list[str], opening: str,
) -> None:
    events = await research_events(tmp_path / "index.sqlite3", embedder, pages, question)
    progress = next(e.message for e in events if isinstance(e, Progress) and "each side read on its own page" in e.message)
    assert all(reply in progress for reply in replies)
    basis = next(e for e in events if isinstance(e, Basis))
    assert re.search(opening, basis.content.split(".")[0], re.I)
    assert set(pages) <= {c.url for field in basis.basis for c in field.citations}
