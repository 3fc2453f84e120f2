"""Non-streaming answers: an OpenAI `chat.completion` with basis, annotations and usage."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from api_harness import ANSWER, SOURCE, MakeApp, answer_script, chat_body, serve_app

from deepcite.errors import UpstreamError
from deepcite.research.basis import Citation, FieldBasis
from deepcite.research.events import Basis, Done, TextDelta


async def test_completion_has_openai_shape_with_basis(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-") and len(data["id"]) > 20
    assert data["interaction_id"] == data["id"]
    assert isinstance(data["created"], int)
    assert data["model"] == "lite"
    [choice] = data["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == ANSWER
    assert choice["message"]["refusal"] is None
    [annotation] = choice["message"]["annotations"]
    assert annotation["type"] == "url_citation"
    assert annotation["url_citation"]["url"] == SOURCE
    assert data["usage"] == {"prompt_tokens": 42, "completion_tokens": 9, "total_tokens": 51}
    [basis] = data["basis"]
    assert basis["field"] == "content"
    assert basis["confidence"] == "high"
    assert basis["citations"][0]["excerpts"] == ["Paris is the capital of France"]


async def test_ids_differ_between_completions(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        first = (await client.post("/v1/chat/completions", json=chat_body())).json()
        second = (await client.post("/v1/chat/completions", json=chat_body())).json()
    assert first["id"] != second["id"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions", "/v1beta/chat/completions"])
async def test_chat_is_served_at_every_alias(make_app: MakeApp, path: str) -> None:
    async with make_app().client() as client:
        response = await client.post(path, json=chat_body())
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == ANSWER


async def test_final_content_wins_over_streamed_text(make_app: MakeApp) -> None:
    repaired = '{"answer": "Paris"}'
    script = [
        TextDelta('{"answer": "Par'),
        Basis(
            content=repaired,
            basis=[FieldBasis("answer", [Citation(SOURCE, None, ["Paris"])], "r", "medium")],
            annotations=[],
        ),
        Done(finish_reason="length", prompt_tokens=1, completion_tokens=2),
    ]
    async with make_app(script).client() as client:
        data = (await client.post("/v1/chat/completions", json=chat_body())).json()
    assert data["choices"][0]["message"]["content"] == repaired
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["basis"][0]["field"] == "answer"


async def test_answer_without_basis_event_still_completes(make_app: MakeApp) -> None:
    async with make_app([TextDelta("Hello "), TextDelta("there")]).client() as client:
        data = (await client.post("/v1/chat/completions", json=chat_body())).json()
    assert data["choices"][0]["message"]["content"] == "Hello there"
    assert data["basis"] == []
    assert data["usage"]["total_tokens"] == 0


async def test_engine_error_is_rendered_with_its_status(make_app: MakeApp) -> None:
    script = [TextDelta("partial"), UpstreamError("the upstream LLM timed out")]
    async with make_app(script).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 502
    assert response.json() == {
        "error": {
            "message": "the upstream LLM timed out",
            "type": "api_error",
            "param": None,
            "code": "upstream_error",
        }
    }


async def test_unexpected_engine_failure_is_a_generic_500(make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    script = [RuntimeError("secret internal detail")]
    with caplog.at_level(logging.ERROR, logger="deepcite.api"):
        async with make_app(script).client() as client:
            response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert "secret" not in response.text
    # The traceback is in the server's log instead.
    assert any(r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_engine_receives_the_conversation(make_app: MakeApp) -> None:
    sut = make_app(answer_script())
    request = {
        "model": "base",
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "Who founded it?", "name": "ann"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "t1", "type": "function"}]},
            {"role": "tool", "content": "tool output", "tool_call_id": "t1"},
            {"role": "assistant", "content": "Parallel Web Systems was founded by Parag Agrawal."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "When?"},
                    {"type": "image_url", "image_url": {"url": "https://example.org/x.png"}},
                    {"type": "text", "text": "Give the year."},
                ],
            },
        ],
    }
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200
    [research] = sut.engine.requests
    assert research.model == "base"
    assert research.json_schema is None
    assert [(m.role, m.content) for m in research.messages] == [
        ("system", "Answer briefly."),
        ("user", "Who founded it?"),
        ("assistant", "Parallel Web Systems was founded by Parag Agrawal."),
        ("user", "When?\nGive the year."),
    ]


async def test_done_tokens_are_counted_in_metrics(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        await client.post("/v1/chat/completions", json=chat_body())
        metrics = (await client.get("/metrics")).text
    assert 'deepcite_tokens_total{kind="prompt",model="lite"} 42.0' in metrics
    assert 'deepcite_tokens_total{kind="completion",model="lite"} 9.0' in metrics
    assert 'deepcite_time_to_first_token_seconds_count{model="lite",stream="false"} 1.0' in metrics


async def test_done_with_length_is_reported(make_app: MakeApp) -> None:
    script = [TextDelta("a"), Done(finish_reason="length", prompt_tokens=3, completion_tokens=4)]
    async with make_app(script).client() as client:
        data = (await client.post("/v1/chat/completions", json=chat_body())).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


async def test_client_hang_up_stops_a_non_streaming_research(make_app: MakeApp) -> None:
    sut = make_app([30.0, TextDelta("never")])
    async with serve_app(sut.app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/chat/completions", json=chat_body())
        await asyncio.wait_for(sut.engine.finished.wait(), timeout=5)
    assert sut.engine.stopped_by is asyncio.CancelledError
