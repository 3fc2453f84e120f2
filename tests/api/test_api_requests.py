"""Reading requests: honoured fields, ignored fields, and OpenAI's errors for bad ones."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from api_harness import MakeApp, chat_body, serve_app

from deepcite.api.limits import MAX_MESSAGE_CHARS

# Parallel's "Ignored" request fields, with plausible values.
IGNORED_FIELDS: dict[str, Any] = {
    "max_tokens": 100,
    "max_completion_tokens": 100,
    "stream_options": {"include_usage": True},
    "top_p": 0.9,
    "parallel_tool_calls": False,
    "stop": ["\n"],
    "temperature": 0.2,
    "n": 1,
    "logprobs": True,
    "metadata": {"a": "b"},
    "prediction": {"type": "content", "content": "x"},
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "seed": 7,
    "service_tier": "auto",
    "audio": {"voice": "alloy", "format": "mp3"},
    "logit_bias": {"50256": -100},
    "store": True,
    "user": "someone",
    "modalities": ["text"],
    "top_logprobs": 2,
    "reasoning_effort": "low",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "auto",
    "functions": [{"name": "f"}],
    "previous_interaction_id": "chatcmpl-earlier",
    "a_field_nobody_knows": {"nested": [1, 2]},
}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


async def test_ignored_and_unknown_fields_never_fail(make_app: MakeApp) -> None:
    request = chat_body(**IGNORED_FIELDS)
    request["messages"][0] |= {"name": "ann", "tool_calls": [], "audio": None, "function_call": None}
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200, response.text


async def test_unknown_model_is_404_model_not_found(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body() | {"model": "gpt-9"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    assert error["message"].startswith("The model `gpt-9` does not exist")


async def test_malformed_json_is_400(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post(
            "/v1/chat/completions", content=b'{"model": "lite",', headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert "could not parse the JSON body" in error_of(response)["message"]


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b'"text"'])
async def test_body_that_is_not_an_object_is_400(make_app: MakeApp, content: bytes) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", content=content)
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "lite"}, "messages"),
        ({"model": "lite", "messages": []}, "messages"),
        ({"model": "lite", "messages": "hi"}, "messages"),
        ({"model": "lite", "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
        ({"model": "lite", "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content"),
        ({"model": "lite", "messages": [{"role": "user", "content": "a"}, {"content": "b"}]}, "messages.1.role"),
        ({"model": "lite", "messages": [{"role": "wizard", "content": "b"}]}, "messages.0.role"),
        ({"model": "lite", "messages": [{"role": "user", "content": "a"}], "stream": "often"}, "stream"),
        (chat_body(response_format={"type": "yaml"}), "response_format"),
        (chat_body(response_format={"type": "json_schema"}), "response_format.json_schema"),
    ],
)
async def test_validation_errors_name_the_field(make_app: MakeApp, request_body: dict[str, Any], param: str) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json=request_body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_missing_parameter_message_is_openais(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json={"model": "lite"})
    assert error_of(response)["message"] == "Missing required parameter: 'messages'."


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "Be brief."}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}]}],
        [{"role": "user", "content": "   "}],
        [{"role": "tool", "content": "result", "tool_call_id": "t"}],
    ],
)
async def test_no_user_text_is_400_on_messages(make_app: MakeApp, messages: list[dict[str, Any]]) -> None:
    sut = make_app()
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json={"model": "lite", "messages": messages})
    assert response.status_code == 400
    assert error_of(response)["param"] == "messages"
    assert sut.engine.requests == []


@pytest.mark.parametrize(
    ("response_format", "schema"),
    [
        (None, None),
        ({"type": "text"}, None),
        ({"type": "json_object"}, {"type": "object"}),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "r",
                    "strict": True,
                    "schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
                },
            },
            {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
        ),
    ],
)
async def test_response_format_becomes_the_engine_schema(
    make_app: MakeApp, response_format: dict[str, Any] | None, schema: dict[str, Any] | None
) -> None:
    sut = make_app()
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(response_format=response_format))
    assert response.status_code == 200
    assert sut.engine.requests[0].json_schema == schema


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "objectx"},
        {"type": "object", "properties": {"a": {"type": 5}}},
        {"type": "object", "required": "answer"},
        {"minLength": -1},
    ],
)
async def test_invalid_json_schema_is_400_on_response_format(make_app: MakeApp, schema: dict[str, Any]) -> None:
    sut = make_app()
    request = chat_body(response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}})
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == "response_format"
    assert "not a valid JSON Schema" in error["message"]
    assert sut.engine.requests == []


async def test_body_over_the_limit_by_content_length_is_413(make_app: MakeApp) -> None:
    sut = make_app(max_body_bytes=10_000)
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", content=b"x" * 10_000_000)
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


async def test_body_over_the_limit_without_content_length_is_413(make_app: MakeApp) -> None:
    async def chunks() -> Any:
        for _ in range(160):
            yield b"x" * 65_536  # 10 MB in all, sent chunked

    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


async def test_ten_megabyte_body_over_a_real_socket_is_413(make_app: MakeApp) -> None:
    sut = make_app()
    big = chat_body("x" * 10_000_000)
    async with serve_app(sut.app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/chat/completions", json=big)
    assert response.status_code == 413
    assert error_of(response)["type"] == "invalid_request_error"


async def test_body_at_the_limit_is_read(make_app: MakeApp) -> None:
    sut = make_app()
    request = chat_body()
    # Background in earlier turns, each within a message's own limit, up to the body's.
    room = sut.settings.max_body_bytes - 2_000
    background = [{"role": "system", "content": "y" * MAX_MESSAGE_CHARS}] * (room // MAX_MESSAGE_CHARS)
    background.append({"role": "system", "content": "y" * (room % MAX_MESSAGE_CHARS)})
    request["messages"] = background + request["messages"]
    assert sut.settings.max_body_bytes - 2_500 < len(json.dumps(request)) <= sut.settings.max_body_bytes
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200


async def test_unknown_route_is_404_envelope(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/completions", json={})
    assert response.status_code == 404
    assert error_of(response)["message"] == "Invalid URL (POST /v1/completions)"


async def test_wrong_method_is_405_envelope(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_of(response)["type"] == "invalid_request_error"
