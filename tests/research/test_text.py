import json
from typing import Any

import pytest
from bench.harness import SQUAD

from deepcite.research.text import (
    STOPWORDS,
    content_words,
    is_heading,
    normalize_answer,
    split_sentences,
    stem,
    tokenize,
)


@pytest.fixture(scope="module")
def squad_paragraphs() -> list[dict[str, Any]]:
    articles = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    return [p for article in articles[::4] for p in article["paragraphs"][:15]]


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_tokenize_lowercases_keeps_unicode_and_folds_plurals() -> None:
    assert tokenize("The Broncos' classes, Levi's boxes; studies of Zürich CAFÉS") == [
        "the", "bronco", "class", "levi", "box", "study", "of", "zürich", "café",
    ]  # fmt: skip


def test_stem_only_folds_plurals() -> None:
    assert [stem(w) for w in ["panthers", "analysis", "status", "glass", "famous", "bus", "1990s"]] == [
        "panther", "analysis", "status", "glass", "famous", "bus", "1990",
    ]  # fmt: skip
    assert stem("cities") == stem("city") == "city"


def test_content_words_drop_stopwords_and_keep_numbers() -> None:
    assert content_words("Which NFL team represented the AFC at Super Bowl 50?") == [
        "nfl", "team", "represented", "afc", "super", "bowl", "50",
    ]  # fmt: skip
    assert content_words("Who was it that didn't do it?") == []
    assert {"the", "and", "which"} <= STOPWORDS


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("The Denver Broncos", "denver broncos"),
        ("  Santa Clara,   California. ", "santa clara california"),
        ("an apple a day", "apple day"),
        ("“Super Bowl L”", "super bowl l"),
        ("24–10", "2410"),
    ],
)
def test_normalize_answer_is_squads(given: str, expected: str) -> None:
    assert normalize_answer(given) == expected


def test_split_sentences_handles_abbreviations_initials_and_decimals() -> None:
    text = (
        "Dr. J. K. Rowling moved to the U.S. Army base in 1990. The pay was 3.5 dollars, e.g. not much. "
        'She left the U.S. The end came soon! Did it? "Yes." he said. Apple Inc. makes phones.'
    )
    assert sentences(text) == [
        "Dr. J. K. Rowling moved to the U.S. Army base in 1990.",
        "The pay was 3.5 dollars, e.g. not much.",
        "She left the U.S.",
        "The end came soon!",
        "Did it?",
        '"Yes." he said.',
        "Apple Inc. makes phones.",
    ]
    # A time of day ends its sentence when a name follows, and runs on into lower case.
    assert sentences("He dined at 8:10 p.m. Tesla worked on. It opened at 9 a.m. daily.") == [
        "He dined at 8:10 p.m.",
        "Tesla worked on.",
        "It opened at 9 a.m. daily.",
    ]


def test_split_sentences_handles_ellipses_and_blank_lines() -> None:
    text = 'It read "1... 2... 3...". I am here to . . . submit.\n\nA heading\n\n  It rose… Certainly!'
    assert sentences(text) == [
        'It read "1... 2... 3...".',
        "I am here to . . . submit.",
        "A heading",
        "It rose…",
        "Certainly!",
    ]


def test_a_no_before_a_word_ends_the_answer_but_numbers_one_before_a_number() -> None:
    assert sentences("No. Tony Gatlif was born in Algiers. It peaked at No. 5. Nos. 3 and 4 sold.") == [
        "No.",
        "Tony Gatlif was born in Algiers.",
        "It peaked at No. 5.",
        "Nos. 3 and 4 sold.",
    ]


def test_a_heading_is_a_span_without_terminal_punctuation() -> None:
    assert is_heading("The Migration of Arctic Terns") and is_heading("Early life (1856–1880)")
    assert not is_heading("Terns fly far.") and not is_heading('"Yes!"') and not is_heading("It rose…")


def test_split_sentences_of_nothing() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\n ") == []
    assert sentences("no terminator at all") == ["no terminator at all"]


def test_sentence_spans_tile_real_paragraphs_verbatim(squad_paragraphs: list[dict[str, Any]]) -> None:
    counts = []
    for paragraph in squad_paragraphs:
        text = paragraph["context"]
        spans = split_sentences(text)
        counts.append(len(spans))
        # Spans are in order, do not overlap, carry no edge whitespace, and
        # together cover every non-space character of the paragraph.
        assert all(s < e for s, e in spans)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False))
        assert all(text[s:e] == text[s:e].strip() for s, e in spans)
        assert "".join("".join(text[s:e] for s, e in spans).split()) == "".join(text.split())
    average = sum(counts) / len(counts)
    assert 3 <= average <= 8, average


def test_sentence_splits_rarely_cut_answers(squad_paragraphs: list[dict[str, Any]]) -> None:
    answers = cut = 0
    for paragraph in squad_paragraphs:
        spans = split_sentences(paragraph["context"])
        for qa in paragraph["qas"]:
            answer = qa["answers"][0]
            start, end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
            answers += 1
            cut += not any(s <= start and end <= e for s, e in spans)
    # Some SQuAD answers genuinely span two sentences; a bad splitter cuts many more.
    assert cut / answers < 0.02, (cut, answers)
