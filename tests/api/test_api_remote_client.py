"""`deepcite ask --base-url`'s client against the app: the engine's events survive the trip over SSE."""

from __future__ import annotations

import httpx
import pytest
from api_harness import ANSWER, ANSWER_ANNOTATIONS, ANSWER_BASIS, AppUnderTest, MakeApp, answer_script

from deepcite.errors import UpstreamError
from deepcite.remote import RemoteDeepcite, RemoteError, chat_body
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta

QUESTION = "What is the capital of France?"


def remote(app: AppUnderTest, api_key: str | None = None) -> RemoteDeepcite:
    transport = httpx.ASGITransport(app=app.app)
    return RemoteDeepcite("http://testserver", api_key, transport=transport)


async def collect(client: RemoteDeepcite, events: list[ResearchEvent]) -> None:
    async with client:
        async for event in client.stream(chat_body("lite", QUESTION, None, stream=True)):
            events.append(event)


async def test_the_stream_comes_back_as_the_engines_events(make_app: MakeApp) -> None:
    events: list[ResearchEvent] = []
    await collect(remote(make_app()), events)
    assert events == [
        Progress("search", "searching: capital of France"),
        TextDelta(ANSWER[:10]),
        TextDelta(ANSWER[10:]),
        Basis(ANSWER, ANSWER_BASIS, ANSWER_ANNOTATIONS),
        Done("stop", 42, 9),
    ]


async def test_content_revised_after_streaming_is_the_one_kept(make_app: MakeApp) -> None:
    script = answer_script()
    script[1:3] = [TextDelta("Lyon is the capital.")]
    events: list[ResearchEvent] = []
    await collect(remote(make_app(script)), events)
    basis = next(e for e in events if isinstance(e, Basis))
    assert basis.content == ANSWER


async def test_an_error_after_streaming_began_is_raised_with_its_message(make_app: MakeApp) -> None:
    events: list[ResearchEvent] = []
    with pytest.raises(RemoteError, match="the model went away"):
        await collect(remote(make_app([TextDelta("Paris"), UpstreamError("the model went away")])), events)
    assert events == [TextDelta("Paris")]


async def test_a_refusal_before_streaming_carries_the_api_status_and_message(make_app: MakeApp) -> None:
    app = make_app(api_keys="right-key")
    with pytest.raises(RemoteError) as refused:
        await collect(remote(app, "wrong-key"), [])
    assert refused.value.status_code == 401
    assert refused.value.message.startswith("Incorrect API key provided")
    async with remote(app, "right-key") as client:
        body = await client.complete(chat_body("lite", QUESTION, None, stream=False))
    assert body["choices"][0]["message"]["content"] == ANSWER
