import random

import pytest

from deepcite.search.passages import MAX_WORDS, MIN_WORDS, split_passages


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(["tern", "colony", "island", "survey", "2023", "pairs", "north", "café"]) for _ in range(12)]
    return " ".join(words).capitalize() + rng.choice([".", "!", "?", "."])


def _article(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.randint(3, 12)):
        if rng.random() < 0.2:
            paragraphs.append("## A heading")
        else:
            paragraphs.append(" ".join(_sentence(rng) for _ in range(rng.randint(1, 25))))
    separators = ["\n\n", "\n\n\n", "\r\n\r\n", "\n  \n"]
    return "  " + "".join(p + rng.choice(separators) for p in paragraphs)


@pytest.mark.parametrize("seed", range(20))
def test_passages_are_verbatim_ordered_and_cover_every_word(seed: int) -> None:
    text = _article(random.Random(seed))
    passages = split_passages(text)
    previous_end = 0
    for passage in passages:
        assert text[passage.start : passage.end] == passage.text
        assert passage.text == passage.text.strip() and passage.text
        assert passage.start >= previous_end
        previous_end = passage.end
    assert [w for p in passages for w in p.text.split()] == text.split()


def test_long_paragraphs_are_cut_at_sentences_into_passages_of_the_target_size() -> None:
    sentence = "The Arctic tern flies from pole to pole every single year of its long life."  # 15 words
    text = "\n\n".join(" ".join([sentence] * 20) for _ in range(3))
    passages = split_passages(text)
    assert all(MIN_WORDS <= len(p.text.split()) <= MAX_WORDS for p in passages)
    assert all(p.text.startswith("The Arctic") and p.text.endswith("life.") for p in passages)


def test_a_heading_joins_the_paragraph_after_it() -> None:
    body = " ".join(["Terns nest on the shingle beaches of the island in large colonies."] * 6)
    text = f"Breeding\n\n{body}\n\nMigration\n\n{body}"
    passages = split_passages(text)
    assert [p.text.split("\n\n")[0] for p in passages] == ["Breeding", "Migration"]


def test_a_sentence_longer_than_a_passage_is_cut_between_words() -> None:
    text = " ".join(f"word{i}" for i in range(500))
    passages = split_passages(text)
    assert len(passages) >= 5
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert " ".join(p.text for p in passages) == text


def test_text_without_spaces_is_still_cut() -> None:
    text = "北极燕鸥每年从北极飞到南极。" * 300
    passages = split_passages(text)
    assert len(passages) > 1
    assert "".join(p.text for p in passages) == text


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n"])
def test_blank_text_has_no_passages(text: str) -> None:
    assert split_passages(text) == []
