"""The product as a client sees it: a real server, the official openai SDK, the bundled corpus."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from e2e_server import API_KEY, RunningServer

QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
SUPER_BOWL = "https://en.wikipedia.org/wiki/Super_Bowl_50"


def check_basis(basis: list[dict[str, Any]], pages: dict[str, str]) -> None:
    assert basis, "every model returns a basis"
    for field in basis:
        assert field["confidence"] in {"low", "medium", "high"}
        assert field["reasoning"]
        for citation in field["citations"]:
            assert citation["url"] in pages
            for excerpt in citation["excerpts"]:
                assert excerpt in pages[citation["url"]], f"excerpt not verbatim: {excerpt!r}"


def test_models_are_listed(server: RunningServer) -> None:
    ids = {m.id for m in server.client().models.list()}
    assert ids == {"speed", "lite", "base", "core"}


def test_non_streaming_answer_is_researched_and_cited(server: RunningServer, corpus_pages: dict[str, str]) -> None:
    response = server.client().chat.completions.create(
        model="speed", messages=[{"role": "user", "content": QUESTION}]
    )
    assert response.id.startswith("chatcmpl-")
    assert response.model == "speed"
    assert response.choices[0].finish_reason in {"stop", "length"}
    assert response.usage is not None and response.usage.prompt_tokens > 0
    content = response.choices[0].message.content or ""
    assert "Super Bowl" in content
    basis = response.model_extra["basis"]  # type: ignore[index]
    check_basis(basis, corpus_pages)
    assert basis[0]["field"] == "content"
    assert SUPER_BOWL in {c["url"] for c in basis[0]["citations"]}
    annotations = response.choices[0].message.annotations or []
    assert annotations
    for annotation in annotations:
        span = content[annotation.url_citation.start_index : annotation.url_citation.end_index]
        assert span.startswith("[") and span.endswith("]")


def test_streaming_answer_ends_with_basis(server: RunningServer, corpus_pages: dict[str, str]) -> None:
    stream = server.client().chat.completions.create(
        model="speed", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    stages = [(c.model_extra or {}).get("deepcite", {}).get("progress", {}).get("stage") for c in chunks]
    assert "search" in stages and "write" in stages, "progress reaches the SDK as an extension field"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Super Bowl" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason in {"stop", "length"}
    assert last.usage is not None
    check_basis(last.model_extra["basis"], corpus_pages)  # type: ignore[index]


def test_follow_up_is_understood_from_earlier_turns(server: RunningServer) -> None:
    response = server.client().chat.completions.create(
        model="speed",
        messages=[
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "Where was Super Bowl 50 played?"},
            {"role": "assistant", "content": "At Levi's Stadium."},
            {"role": "user", "content": [{"type": "text", "text": "And which team won it?"},
                                         {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]},
        ],
        temperature=0.3, top_p=0.9, max_tokens=50, seed=1, user="someone",
    )
    basis = response.model_extra["basis"]  # type: ignore[index]
    assert SUPER_BOWL in {c["url"] for c in basis[0]["citations"]}


def test_json_schema_answer_validates(server: RunningServer, corpus_pages: dict[str, str]) -> None:
    schema = {
        "type": "object",
        "properties": {
            "team": {"type": "string", "description": "The team"},
            "score": {"type": "string"},
            "facts": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "required": ["team", "score", "facts"],
        "additionalProperties": False,
    }
    response = server.client().chat.completions.create(
        model="speed",
        messages=[{"role": "user", "content": "Who won Super Bowl 50 and what was the score?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "result", "schema": schema}},
    )
    value = json.loads(response.choices[0].message.content or "")
    jsonschema.validate(value, schema)
    basis = response.model_extra["basis"]  # type: ignore[index]
    check_basis(basis, corpus_pages)
    fields = [b["field"] for b in basis]
    assert fields[:3] == ["team", "score", "facts"]
    assert fields[3:] == [f"facts.{i}" for i in range(len(value["facts"]))]


def test_bad_requests_get_openai_errors(server: RunningServer) -> None:
    client = server.client()
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as no_user:
        client.chat.completions.create(model="speed", messages=[{"role": "system", "content": "hi"}])
    assert no_user.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as bad_schema:
        client.chat.completions.create(
            model="speed", messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}},
        )
    assert bad_schema.value.param == "response_format"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.base_url + "/v1", api_key="wrong", max_retries=0).models.list()

    url = server.base_url + "/v1/chat/completions"
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
    cases = [
        (b"{not json", 400),
        (b'{"model": "speed", "messages": "hello"}', 400),
        (b'{"model": "speed", "messages": []}', 400),
        (b'{"model": 7, "messages": [{"role": "user", "content": "hi"}]}', 400),
        (b"x" * 10_000_000, 413),
    ]
    for body, status in cases:
        response = httpx.post(url, content=body, headers=headers, timeout=30)
        assert response.status_code == status, body[:40]
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert "Traceback" not in response.text


def test_x_api_key_header_is_accepted(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/v1/models", headers={"x-api-key": API_KEY})
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit-requests"]
