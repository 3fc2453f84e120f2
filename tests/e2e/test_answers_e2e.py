"""Answers that answer: the questions a new user tried on the bundled corpus, with the default model."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_server import RunningServer

from deepcite.research.text import split_sentences

DECLINED = "The sources I found do not answer"


def ask(server: RunningServer, model: str, question: str) -> tuple[str, dict[str, Any]]:
    response = server.client(timeout=120).chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}]
    )
    basis = response.model_extra["basis"]  # type: ignore[index]
    return response.choices[0].message.content or "", basis[0]


def first_sentence(content: str) -> str:
    spans = split_sentences(content)
    return content[spans[0][0] : spans[0][1]] if spans else content


@pytest.mark.parametrize(
    ("model", "question", "answers"),
    [
        ("speed", "What team won Super Bowl 50?", ["Denver"]),
        ("speed", "Where was Super Bowl 50 played?", ["Levi's Stadium", "Santa Clara", "San Francisco Bay Area"]),
        ("base", "Where was Super Bowl 50 played?", ["Levi's Stadium", "Santa Clara", "San Francisco Bay Area"]),
        ("lite", "How many siblings did Tesla have?", ["four", "4", "three sisters", "Dane"]),
        ("lite", "Who founded the University of Chicago?", ["Rockefeller", "American Baptist Education Society"]),
    ],
)
def test_the_first_sentence_answers_or_the_answer_is_declined(
    server: RunningServer, model: str, question: str, answers: list[str]
) -> None:
    content, basis = ask(server, model, question)
    if content.startswith(DECLINED):  # honest, if not helpful: never a wrong answer
        assert basis["confidence"] == "low" and basis["citations"] == []
        return
    lead = first_sentence(content)
    assert any(a.lower() in lead.lower() for a in answers), content
    assert len(lead.split()) <= 30, lead
    assert basis["citations"], "an answer cites its sources"
    assert basis["confidence"] in {"medium", "high"}, basis


def test_a_question_the_corpus_cannot_answer_is_declined_and_rated_low(server: RunningServer) -> None:
    content, basis = ask(server, "lite", "What does Parallel Web Systems do?")
    assert content.startswith(DECLINED), content
    assert basis["confidence"] == "low"
    assert basis["citations"] == []
