"""Bodies that used to be 500s (or worse) are 400s in OpenAI's envelope, naming what is wrong."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from api_harness import MakeApp, chat_body

from deepcite.api.limits import MAX_JSON_DEPTH, MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_NAME_CHARS

ROUTES = ("/v1/chat/completions", "/v1/search", "/v1/extract")


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    return dict(body["error"])


async def post_raw(make_app: MakeApp, path: str, body: bytes) -> httpx.Response:
    async with make_app().client() as client:
        return await client.post(path, content=body, headers={"content-type": "application/json"})


def nested(depth: int) -> bytes:
    return b'{"model": "speed", "messages": [{"role": "user", "content": "hi"}], "metadata": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2_000, 100_000])
async def test_deeply_nested_json_is_400_in_any_body(make_app: MakeApp, path: str, depth: int) -> None:
    error = error_of(await post_raw(make_app, path, nested(depth)))
    assert f"nested more than {MAX_JSON_DEPTH} levels deep" in error["message"]


async def test_nesting_within_the_limit_is_accepted(make_app: MakeApp) -> None:
    response = await post_raw(make_app, ROUTES[0], nested(MAX_JSON_DEPTH - 3))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    "number", [b"9" * 5_000, b"-" + b"1" * 4_301, b"1." + b"0" * 5_000, b"1e999", b"NaN", b"-Infinity"]
)
async def test_numbers_json_cannot_hold_are_400_in_any_field(make_app: MakeApp, path: str, number: bytes) -> None:
    body = b'{"model": "speed", "messages": [{"role": "user", "content": "hi"}], "max_results": ' + number + b"}"
    error = error_of(await post_raw(make_app, path, body))
    assert error["message"].startswith("Invalid request body:")


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (ROUTES[0], {"model": "speed", "messages": [{"role": "user", "content": "caf\\ud800"}]}, "messages.0.content"),
        (ROUTES[0], {"model": "\\udfff", "messages": [{"role": "user", "content": "hi"}]}, "model"),
        (ROUTES[0], {"model": "speed", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud83d"}]}]},
         "messages.0.content.0.text"),
        (ROUTES[0], {"model": "speed", "messages": [{"role": "user", "content": "hi"}], "user": {"\\udc00": 1}}, "user"),
        (ROUTES[1], {"objective": "x", "search_queries": ["ok", "bad \\ud800 query"]}, "search_queries.1"),
        (ROUTES[2], {"urls": ["https://example.org/\\udbff"]}, "urls.0"),
    ],
)
async def test_lone_surrogates_are_400_naming_the_field(make_app: MakeApp, path: str, body: Any, param: str) -> None:
    # Written by hand: a JSON encoder refuses to produce these bytes.
    raw = json.dumps(body).replace("\\\\u", "\\u").encode()
    error = error_of(await post_raw(make_app, path, raw))
    assert error["param"] == param
    assert "lone UTF-16 surrogate" in error["message"]


async def test_a_surrogate_pair_is_an_ordinary_character(make_app: MakeApp) -> None:
    sut = make_app()
    raw = b'{"model": "speed", "messages": [{"role": "user", "content": "smile \\ud83d\\ude00"}]}'
    async with sut.client() as client:
        response = await client.post(ROUTES[0], content=raw)
    assert response.status_code == 200, response.text
    assert sut.engine.requests[0].messages[-1].content == "smile \U0001f600"


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "1", [], {}])
async def test_stream_must_be_a_real_boolean(make_app: MakeApp, value: Any) -> None:
    async with make_app().client() as client:
        response = await client.post(ROUTES[0], json=chat_body(stream=value))
    assert error_of(response)["param"] == "stream"


@pytest.mark.parametrize("value", [True, False, None])
async def test_stream_booleans_and_null_are_accepted(make_app: MakeApp, value: Any) -> None:
    async with make_app().client() as client:
        response = await client.post(ROUTES[0], json=chat_body(stream=value))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "strict": "yes"}}},
         "response_format.json_schema.strict"),
        ({"model": "s" * (MAX_NAME_CHARS + 1)}, "model"),
        ({"messages": [{"role": "user", "content": "hi"}] * (MAX_MESSAGES + 1)}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * (MAX_MESSAGE_CHARS + 1)}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "hi", "name": "n" * (MAX_NAME_CHARS + 1)}]}, "messages.0.name"),
    ],
)
async def test_field_limits_are_400_naming_the_field(make_app: MakeApp, fields: dict[str, Any], param: str) -> None:
    async with make_app().client() as client:
        response = await client.post(ROUTES[0], json=chat_body() | fields)
    assert error_of(response)["param"] == param


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (ROUTES[1], {"search_queries": ["q" * 2_001]}, "search_queries.0"),
        (ROUTES[1], {"objective": "x", "source_policy": {"include_domains": ["a.org"] * 101}},
         "source_policy.include_domains"),
        (ROUTES[2], {"urls": ["https://example.org/" + "a" * 8_000]}, "urls.0"),
        (ROUTES[2], {"urls": ["https://example.org/"], "excerpts": "yes"}, "excerpts"),
        (ROUTES[2], {"urls": ["https://example.org/"], "full_content": 1}, "full_content"),
    ],
)
async def test_search_and_extract_field_limits(make_app: MakeApp, path: str, body: dict[str, Any], param: str) -> None:
    async with make_app().client() as client:
        response = await client.post(path, json=body)
    assert error_of(response)["param"] == param


def capitalised_question(size: int) -> str:
    words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet"]
    text = " ".join(f"{words[i % 10]}{i}" for i in range(size // 8))
    return text[:size]


async def test_a_long_question_is_refused_at_once_naming_it(make_app: MakeApp) -> None:
    sut = make_app()
    body = chat_body()
    body["messages"] = [
        {"role": "system", "content": "Background. " * 1_000},
        {"role": "user", "content": capitalised_question(90_000)},
    ]
    started = time.perf_counter()
    async with sut.client() as client:
        response = await client.post(ROUTES[0], json=body)
    assert time.perf_counter() - started < 1.0
    error = error_of(response)
    assert error["param"] == "messages.1.content"
    assert error["code"] == "question_too_long"
    assert f"longer than {sut.settings.max_question_tokens} tokens" in error["message"]
    assert not sut.engine.requests


async def test_the_question_limit_is_a_setting(make_app: MakeApp) -> None:
    question = "word " * 50
    async with make_app(max_question_tokens=40).client() as client:
        refused = await client.post(ROUTES[0], json=chat_body(question))
    async with make_app(max_question_tokens=60).client() as client:
        accepted = await client.post(ROUTES[0], json=chat_body(question))
    assert error_of(refused)["code"] == "question_too_long"
    assert accepted.status_code == 200


def schema_body(schema: Any, model: str = "speed") -> dict[str, Any]:
    response_format = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    return chat_body(response_format=response_format) | {"model": model}


@pytest.mark.parametrize(
    ("schema", "param"),
    [
        ({"type": "object", "properties": {"me": {"$ref": "#"}}}, "response_format.json_schema.schema.properties.me.$ref"),
        ({"type": "object", "properties": {"essay": {"type": "string", "minLength": 3_000_000}}, "required": ["essay"]},
         "response_format.json_schema.schema.properties.essay.minLength"),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 200_000},
         "response_format.json_schema.schema.minItems"),
    ],
)
async def test_schemas_beyond_bounds_are_400_naming_the_keyword(make_app: MakeApp, schema: Any, param: str) -> None:
    sut = make_app()
    async with sut.client() as client:
        response = await client.post(ROUTES[0], json=schema_body(schema))
    assert error_of(response)["param"] == param
    assert not sut.engine.requests


async def test_the_output_budget_is_the_profiles(make_app: MakeApp) -> None:
    # 2,000 characters: more than `speed` writes, within what `core` does.
    schema = {"type": "object", "properties": {"a": {"type": "string", "minLength": 2_000}}, "required": ["a"]}
    async with make_app().client() as client:
        speed = await client.post(ROUTES[0], json=schema_body(schema, "speed"))
        core = await client.post(ROUTES[0], json=schema_body(schema, "core"))
    assert "speed" not in error_of(speed)["message"]  # the message speaks of tokens, not of models
    assert core.status_code == 200, core.text


async def test_huge_upper_bounds_are_accepted(make_app: MakeApp) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 20_000},
                                                "b": {"type": "array", "maxItems": 1_000_000}}}
    sut = make_app()
    async with sut.client() as client:
        response = await client.post(ROUTES[0], json=schema_body(schema))
    assert response.status_code == 200, response.text
    assert sut.engine.requests[0].json_schema == schema
