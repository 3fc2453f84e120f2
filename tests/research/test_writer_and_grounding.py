"""The writer releases only supported sentences; the basis is built from the evidence."""

from __future__ import annotations

from deepcite.research.evidence import Evidence
from deepcite.research.grounding import content_basis, json_basis, rate
from deepcite.research.writer import AnswerWriter

PAGE = (
    "Super Bowl 50 was an American football game. The American Football Conference (AFC) champion "
    "Denver Broncos defeated the National Football Conference (NFC) champion Carolina Panthers 24–10. "
    "The game was played on February 7, 2016, at Levi's Stadium in Santa Clara, California."
)
OTHER = "The Broncos beat the Carolina Panthers 24–10 in Super Bowl 50, their third title."


def evidence() -> list[Evidence]:
    first = PAGE[PAGE.index("The American"):]
    return [
        Evidence(1, "https://a.example/sb50", "Super Bowl 50", first, PAGE, first[: first.index("24–10.") + 6]),
        Evidence(2, "https://b.example/broncos", "Broncos", OTHER, OTHER, OTHER),
    ]


def feed_all(writer: AnswerWriter, text: str) -> str:
    out = "".join(d for piece in text.split(" ") for d in writer.feed(piece + " "))
    return out + "".join(writer.finish())


def test_supported_sentences_are_sent_with_markers_and_unsupported_ones_dropped() -> None:
    writer = AnswerWriter(evidence(), "Who won Super Bowl 50?")
    content = feed_all(writer, "The Denver Broncos defeated the Carolina Panthers. The moon is made of cheese. ")
    assert content.startswith("The Denver Broncos defeated the Carolina Panthers.")
    assert "cheese" not in content
    assert writer.dropped == 1
    for annotation in writer.annotations:
        assert content[annotation.start_index : annotation.end_index] in {"[1]", "[2]"}


def test_markers_written_by_the_model_are_replaced_by_checked_ones() -> None:
    writer = AnswerWriter(evidence(), "Who won Super Bowl 50?")
    content = feed_all(writer, "The Broncos beat the Panthers 24–10 [7]. ")
    assert "[7]" not in content
    assert "[2]" in content


def test_repetition_stops_the_writer() -> None:
    writer = AnswerWriter(evidence(), "Who won?")
    feed_all(writer, "The Broncos won 24–10. The Broncos won 24–10. The Broncos won 24–10. ")
    assert len(writer.claims) == 1 and writer.finished


def test_nothing_supported_falls_back_to_quoting_the_best_evidence() -> None:
    writer = AnswerWriter(evidence(), "Who won Super Bowl 50?")
    content = feed_all(writer, "Cats are mammals. ")
    assert content.startswith(evidence()[0].lead)
    basis = content_basis(writer.claims, "Who won Super Bowl 50?", evidence())
    assert basis.citations[0].url == "https://a.example/sb50"


def test_basis_excerpts_are_verbatim_and_agreement_raises_confidence() -> None:
    writer = AnswerWriter(evidence(), "Which team defeated the Carolina Panthers at Super Bowl 50?")
    feed_all(writer, "The Denver Broncos defeated the Carolina Panthers 24–10. ")
    basis = content_basis(writer.claims, writer.question, evidence())
    pages = {e.url: e.page_text for e in evidence()}
    assert {c.url for c in basis.citations} == set(pages)
    for citation in basis.citations:
        assert all(x in pages[citation.url] for x in citation.excerpts)
    assert basis.confidence == "high"


def test_unsupported_json_values_are_low_with_no_citations() -> None:
    basis = json_basis({"winner": "Denver Broncos", "mascot": "A purple dragon", "scores": ["24–10"]},
                       "Who won Super Bowl 50 and what was the score?", evidence())
    by_field = {b.field: b for b in basis}
    assert set(by_field) == {"winner", "mascot", "scores", "scores.0"}
    assert by_field["winner"].citations and by_field["winner"].confidence != "low"
    assert by_field["mascot"].citations == [] and by_field["mascot"].confidence == "low"
    assert by_field["scores.0"].citations


def test_confidence_needs_coverage_and_agreement() -> None:
    assert rate(1.0, 2, 0.9) == "high"
    assert rate(1.0, 1, 0.9) == "medium"
    assert rate(1.0, 3, 0.5) == "low"
    assert rate(0.3, 3, 1.0) == "low"


def test_an_answer_preamble_is_not_part_of_the_claim() -> None:
    writer = AnswerWriter(evidence(), "Who won Super Bowl 50?")
    content = feed_all(writer, "The answer to this question is: The Denver Broncos defeated the Carolina Panthers. ")
    assert content.startswith("The Denver Broncos defeated")
