"""Streaming answers: `chat.completion.chunk`s over SSE, heartbeats, errors, client hang-ups."""

from __future__ import annotations

import asyncio

import httpx
from api_harness import ANSWER, SOURCE, MakeApp, chat_body, serve_app, sse_chunks, sse_messages

from deepcite.errors import StructuredOutputError, UpstreamError
from deepcite.research.events import Basis, Done, Progress, TextDelta


def streamed_content(text: str) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_chunks(text) if c["choices"])


async def test_stream_sends_role_content_and_a_final_chunk_with_basis(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-ratelimit-limit-requests"] == "300"
    messages = sse_messages(response.text)
    assert messages[-1] == ("data", "[DONE]")
    chunks = sse_chunks(response.text)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert streamed_content(response.text) == ANSWER
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert final["usage"] == {"prompt_tokens": 42, "completion_tokens": 9, "total_tokens": 51}
    assert final["basis"][0]["citations"][0]["url"] == SOURCE
    assert final["choices"][0]["delta"]["annotations"][0]["url_citation"]["url"] == SOURCE
    assert final["interaction_id"] == final["id"]


async def test_progress_is_a_comment_and_an_empty_delta_chunk(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    messages = sse_messages(response.text)
    assert ("comment", "progress search searching: capital of France") in messages
    [progress] = [c for c in sse_chunks(response.text) if "deepcite" in c]
    assert progress["deepcite"] == {"progress": {"stage": "search", "message": "searching: capital of France"}}
    assert progress["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}]


async def test_json_answers_are_sent_whole_once_final(make_app: MakeApp) -> None:
    script = [
        TextDelta('{"answer": "Par'),
        TextDelta("is, probably"),
        Basis(content='{"answer": "Paris"}', basis=[], annotations=[]),
        Done(finish_reason="stop", prompt_tokens=1, completion_tokens=1),
    ]
    request = chat_body(stream=True, response_format={"type": "json_object"})
    async with make_app(script).client() as client:
        response = await client.post("/v1/chat/completions", json=request)
    content_chunks = [c for c in sse_chunks(response.text) if c["choices"][0]["delta"].get("content")]
    assert [c["choices"][0]["delta"]["content"] for c in content_chunks] == ['{"answer": "Paris"}']


async def test_text_completed_by_the_final_content_sends_the_rest(make_app: MakeApp) -> None:
    script = [TextDelta("Paris is"), Basis(content="Paris is the capital.", basis=[], annotations=[])]
    async with make_app(script).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert streamed_content(response.text) == "Paris is the capital."
    assert "deepcite" not in sse_chunks(response.text)[-1]


async def test_text_revised_after_streaming_is_given_in_the_final_chunk(make_app: MakeApp) -> None:
    script = [TextDelta("Lyon is"), Basis(content="Paris is the capital.", basis=[], annotations=[])]
    async with make_app(script).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert streamed_content(response.text) == "Lyon is"
    assert sse_chunks(response.text)[-1]["deepcite"] == {"content": "Paris is the capital."}


async def test_quiet_engine_gets_keep_alive_comments(make_app: MakeApp) -> None:
    script = [Progress("search", "q"), 0.35, TextDelta("late"), Done("stop", 1, 1)]
    async with make_app(script, heartbeat_seconds=0.1).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    messages = sse_messages(response.text)
    keep_alive = messages.index(("comment", "keep-alive"))
    first_content = next(i for i, (kind, m) in enumerate(messages) if kind == "data" and "late" in str(m))
    assert keep_alive < first_content
    assert streamed_content(response.text) == "late"


async def test_slow_start_commits_to_streaming_and_keeps_alive(make_app: MakeApp) -> None:
    script = [0.35, TextDelta("eventually")]
    async with make_app(script, heartbeat_seconds=0.1).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 200
    messages = sse_messages(response.text)
    assert messages[0][0] == "data" and messages[0][1]["choices"][0]["delta"]["role"] == "assistant"
    assert ("comment", "keep-alive") in messages
    assert streamed_content(response.text) == "eventually"


async def test_error_before_the_first_byte_is_a_json_error_with_status(make_app: MakeApp) -> None:
    async with make_app([UpstreamError("search provider down")]).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["message"] == "search provider down"


async def test_error_after_streaming_began_is_a_final_error_event(make_app: MakeApp) -> None:
    script = [TextDelta("Paris"), StructuredOutputError("no valid JSON")]
    async with make_app(script).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 200
    messages = sse_messages(response.text)
    assert messages[-1] == ("data", "[DONE]")
    assert messages[-2] == (
        "data",
        {"error": {"message": "no valid JSON", "type": "server_error", "param": None, "code": "structured_output_failed"}},
    )
    assert all(c.get("choices", [{}])[0].get("finish_reason") is None for c in sse_chunks(response.text)[:-1])


async def test_error_after_a_slow_start_is_an_error_event(make_app: MakeApp) -> None:
    script = [0.3, UpstreamError("upstream gave up")]
    async with make_app(script, heartbeat_seconds=0.05).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 200
    assert sse_chunks(response.text)[-1]["error"]["code"] == "upstream_error"


async def test_unexpected_error_mid_stream_hides_its_detail(make_app: MakeApp) -> None:
    script = [TextDelta("Paris"), KeyError("internal-secret")]
    async with make_app(script).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    error = sse_chunks(response.text)[-1]["error"]
    assert error["type"] == "server_error"
    assert "internal-secret" not in response.text
    assert sse_messages(response.text)[-1] == ("data", "[DONE]")


async def test_stream_records_time_to_first_token(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        await client.post("/v1/chat/completions", json=chat_body(stream=True))
        metrics = (await client.get("/metrics")).text
    assert 'deepcite_time_to_first_token_seconds_count{model="lite",stream="true"} 1.0' in metrics


async def test_client_hang_up_stops_the_engine(make_app: MakeApp) -> None:
    sut = make_app([TextDelta("Paris"), 30.0, TextDelta("never sent")])
    async with serve_app(sut.app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        async with client.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if "Paris" in line:
                    break
        # Leaving the block closed the connection mid-answer.
        await asyncio.wait_for(sut.engine.finished.wait(), timeout=5)
    assert sut.engine.stopped_by in (asyncio.CancelledError, GeneratorExit)


async def test_stream_over_a_real_socket_arrives_piece_by_piece(make_app: MakeApp) -> None:
    sut = make_app([TextDelta("Paris"), 0.3, TextDelta(" is the capital."), Done("stop", 1, 2)])
    async with serve_app(sut.app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first_at = None
        async with client.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as response:
            async for line in response.aiter_lines():
                if first_at is None and "Paris" in line:
                    first_at = loop.time() - started
            total = loop.time() - started
    assert first_at is not None and first_at < 0.25 <= total
