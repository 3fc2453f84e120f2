"""Back-pressure: a bounded queue per model, refusals at once with retry-after, and deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_harness import MakeApp, answer_script, chat_body, sse_chunks

from deepcite.api.app import create_app
from deepcite.config import Settings
from deepcite.research.events import Progress, ResearchEvent
from deepcite.store.keys import KeyStore

SLOW = [0.6, *answer_script()]


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


async def timed_post(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await client.post("/v1/chat/completions", json=body)
    return response, time.perf_counter() - started


async def test_beyond_the_queue_requests_are_refused_at_once_with_retry_after(make_app: MakeApp) -> None:
    sut = make_app(SLOW, queue_active=1, queue_waiting=1)
    async with sut.client() as client:
        results = await asyncio.gather(*(timed_post(client, chat_body()) for _ in range(4)))
    statuses = sorted(r.status_code for r, _ in results)
    assert statuses == [200, 200, 503, 503]
    for response, elapsed in results:
        if response.status_code == 503:
            assert elapsed < 0.3  # refused without waiting for anyone
            error = error_of(response, 503)
            assert error["code"] == "overloaded"
            assert "`lite` model is at capacity" in error["message"]
            assert int(response.headers["retry-after"]) >= 1
    queue = sut.app.state.admission.queues["lite"]
    assert (queue.active, queue.waiting) == (0, 0)


async def test_each_model_has_its_own_queue(make_app: MakeApp) -> None:
    sut = make_app(SLOW, queue_active=1, queue_waiting=0)
    async with sut.client() as client:
        lite, speed = await asyncio.gather(
            client.post("/v1/chat/completions", json=chat_body()),
            client.post("/v1/chat/completions", json=chat_body() | {"model": "speed"}),
        )
    assert (lite.status_code, speed.status_code) == (200, 200)


async def test_a_queued_stream_is_told_its_place_then_answered(make_app: MakeApp) -> None:
    sut = make_app([1.0, *answer_script()], queue_active=1, queue_waiting=2)
    async with sut.client() as client:
        first = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body()))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body(stream=True)))
        await asyncio.sleep(0.1)
        third = await client.post("/v1/chat/completions", json=chat_body(stream=True))
        await asyncio.gather(first, second)
    chunks = sse_chunks(third.text)
    progress = [c["deepcite"]["progress"] for c in chunks if "deepcite" in c and "progress" in c["deepcite"]]
    queued = [p for p in progress if p["stage"] == "queue"]
    assert [p["message"] for p in queued] == [
        "waiting for a free slot: position 2 of 2",
        "waiting for a free slot: position 1 of 1",
    ]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks).startswith("Paris")
    assert sut.app.state.admission.queues["lite"].active == 0


async def test_a_client_that_leaves_the_line_frees_its_place(make_app: MakeApp) -> None:
    sut = make_app([1.0, *answer_script()], queue_active=1, queue_waiting=1)
    async with sut.client() as client:
        running = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body()))
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body()))
        await asyncio.sleep(0.1)
        queue = sut.app.state.admission.queues["lite"]
        assert queue.waiting == 1
        waiting.cancel()
        await asyncio.sleep(0.1)
        assert queue.waiting == 0
        response = await running
    assert response.status_code == 200
    assert (queue.active, queue.waiting) == (0, 0)


async def test_a_failing_research_gives_its_slot_back(make_app: MakeApp) -> None:
    sut = make_app([RuntimeError("boom")], queue_active=1, queue_waiting=0)
    async with sut.client() as client:
        for _ in range(3):
            response = await client.post("/v1/chat/completions", json=chat_body())
            assert response.status_code == 500
    assert sut.app.state.admission.queues["lite"].active == 0


async def test_a_request_past_its_deadline_is_504(make_app: MakeApp) -> None:
    sut = make_app([30.0, *answer_script()], request_timeout=0.4)
    async with sut.client() as client:
        response, elapsed = await timed_post(client, chat_body())
    assert error_of(response, 504)["code"] == "deadline_exceeded"
    assert elapsed < 1.5
    await asyncio.wait_for(sut.engine.finished.wait(), 2)
    assert sut.engine.stopped_by is not None  # the research itself was stopped


async def test_a_stream_past_its_deadline_ends_with_an_error_event(make_app: MakeApp) -> None:
    script = [Progress("search", "searching"), 30.0, *answer_script()]
    sut = make_app(script, request_timeout=0.4, heartbeat_seconds=0.1)
    async with sut.client() as client:
        response, elapsed = await timed_post(client, chat_body(stream=True))
    assert response.status_code == 200
    assert elapsed < 1.5
    errors = [c["error"] for c in sse_chunks(response.text) if "error" in c]
    assert errors and errors[0]["code"] == "deadline_exceeded"
    assert response.text.endswith("data: [DONE]\n\n")


async def test_time_waiting_in_line_counts_against_the_deadline(make_app: MakeApp) -> None:
    sut = make_app([2.0, *answer_script()], queue_active=1, queue_waiting=1, request_timeout=0.5)
    async with sut.client() as client:
        results = await asyncio.gather(timed_post(client, chat_body()), timed_post(client, chat_body()))
    # The second never got a slot: its deadline ran out in line, not a slot's time later.
    for response, elapsed in results:
        assert error_of(response, 504)["code"] == "deadline_exceeded"
        assert elapsed < 1.2
    queue = sut.app.state.admission.queues["lite"]
    assert (queue.active, queue.waiting) == (0, 0)


# A request takes ~0.5 s: one runs, one waits ~0.5 s (0.5 s + its own 0.5 s fit in 1.2 s), and
# a third in line would wait ~1 s: past a 1.2 s deadline, or longer than 0.7 s offered.
@pytest.mark.parametrize("limit", [{"request_timeout": 1.2}, {"queue_max_wait": 0.7}], ids=["deadline", "max_wait"])
async def test_a_request_that_would_wait_too_long_is_refused_rather_than_queued(
    make_app: MakeApp, limit: dict[str, float]
) -> None:
    sut = make_app([0.5, *answer_script()], queue_active=1, queue_waiting=10, **limit)
    async with sut.client() as client:
        await client.post("/v1/chat/completions", json=chat_body())  # teaches the queue a request takes ~0.5 s
        results = await asyncio.gather(*(timed_post(client, chat_body()) for _ in range(4)))
    statuses = [r.status_code for r, _ in results]
    assert statuses.count(200) == 2 and statuses.count(503) == 2
    refused = [r for r, elapsed in results if r.status_code == 503 and elapsed < 0.3]
    assert len(refused) == 2 and all(int(r.headers["retry-after"]) >= 1 for r in refused)


class SlowToStopEngine:
    """Research that takes its time to stop once cancelled, as a model mid-prompt does."""

    models = ["speed", "lite", "base", "core"]

    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    async def run(self, request: Any) -> AsyncIterator[ResearchEvent]:
        try:
            await asyncio.sleep(30)
            yield Progress("search", "never")
        finally:
            await asyncio.shield(asyncio.sleep(1.0))
            self.stopped.set()


async def test_the_deadline_answer_does_not_wait_for_the_research_to_stop(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, request_timeout=0.3, queue_active=1, queue_waiting=0)
    engine = SlowToStopEngine()
    app = create_app(settings, engine, KeyStore(settings.state_path))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response, elapsed = await timed_post(client, chat_body())
        assert error_of(response, 504)["code"] == "deadline_exceeded"
        assert elapsed < 0.8
        queue = app.state.admission.queues["lite"]
        assert queue.active == 1  # still stopping: the slot is not handed on yet
        await asyncio.wait_for(engine.stopped.wait(), 5)
        await asyncio.sleep(0.05)
        assert queue.active == 0
