"""The official `openai` SDK talks to the app: answers, streams, basis and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import pytest
from api_harness import ANSWER, SOURCE, AppUnderTest, MakeApp, serve_app

from deepcite.errors import UpstreamError
from deepcite.research.events import TextDelta

MESSAGES: list[Any] = [{"role": "user", "content": "What is the capital of France?"}]

SdkFor = Callable[..., openai.AsyncOpenAI]


@pytest.fixture
async def sdk_for() -> AsyncIterator[SdkFor]:
    clients: list[openai.AsyncOpenAI] = []

    def make(sut: AppUnderTest, api_key: str = "unused") -> openai.AsyncOpenAI:
        # openai also accepts an `httpx` client (its own transport is `httpx2`).
        http_client: Any = httpx.AsyncClient(transport=httpx.ASGITransport(app=sut.app))
        client = openai.AsyncOpenAI(api_key=api_key, base_url="http://testserver/v1", http_client=http_client, max_retries=0)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_sdk_completion_with_basis(make_app: MakeApp, sdk_for: SdkFor) -> None:
    sdk = sdk_for(make_app())
    completion = await sdk.chat.completions.create(model="lite", messages=MESSAGES)
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "lite"
    message = completion.choices[0].message
    assert message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    assert message.annotations is not None and message.annotations[0].url_citation.url == SOURCE
    assert completion.usage is not None and completion.usage.total_tokens == 51
    extra = completion.model_extra or {}
    assert extra["basis"][0]["citations"][0]["url"] == SOURCE
    assert extra["interaction_id"] == completion.id


async def test_sdk_stream_with_basis_on_the_last_chunk(make_app: MakeApp, sdk_for: SdkFor) -> None:
    sdk = sdk_for(make_app())
    stream = await sdk.chat.completions.create(model="speed", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == ANSWER
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None and last.usage.prompt_tokens == 42
    assert (last.model_extra or {})["basis"][0]["confidence"] == "high"
    progress = [(c.model_extra or {}).get("deepcite") for c in chunks if (c.model_extra or {}).get("deepcite")]
    assert progress == [{"progress": {"stage": "search", "message": "searching: capital of France"}}]


async def test_sdk_json_schema_request(make_app: MakeApp, sdk_for: SdkFor) -> None:
    sut = make_app()
    sdk = sdk_for(sut)
    schema: dict[str, Any] = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    await sdk.chat.completions.create(
        model="base",
        messages=MESSAGES,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        temperature=0.1,
        max_tokens=50,
    )
    assert sut.engine.requests[0].json_schema == schema


async def test_sdk_sees_openai_errors(make_app: MakeApp, sdk_for: SdkFor) -> None:
    open_sdk = sdk_for(make_app())
    with pytest.raises(openai.NotFoundError) as not_found:
        await open_sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        await open_sdk.chat.completions.create(model="lite", messages=[])
    assert bad.value.param == "messages"

    keyed = make_app(api_keys="the-key", rate_limit="1/minute")
    with pytest.raises(openai.AuthenticationError):
        await sdk_for(keyed).models.list()
    good = sdk_for(keyed, "the-key")
    await good.models.list()
    with pytest.raises(openai.RateLimitError):
        await good.models.list()


async def test_sdk_stream_error_after_start_raises(make_app: MakeApp, sdk_for: SdkFor) -> None:
    sdk = sdk_for(make_app([TextDelta("Paris"), UpstreamError("search provider went away")]))
    stream = await sdk.chat.completions.create(model="lite", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError, match="search provider went away"):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Paris"


async def test_sdk_over_a_real_socket(make_app: MakeApp) -> None:
    sut = make_app()
    async with serve_app(sut.app) as base_url:
        sdk = openai.AsyncOpenAI(api_key="unused", base_url=base_url + "/v1", max_retries=0)
        async with sdk:
            stream = await sdk.chat.completions.create(model="lite", messages=MESSAGES, stream=True)
            content = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            models = await sdk.models.list()
    assert content == ANSWER
    assert [m.id for m in models.data] == ["speed", "lite", "base", "core"]
