"""Where the time went: a Server-Timing header, the final chunk's timing, Prometheus histograms."""

from __future__ import annotations

import asyncio
import re

from api_harness import ANSWER, ANSWER_ANNOTATIONS, ANSWER_BASIS, MakeApp, chat_body, sse_chunks

from deepcite.research.events import Basis, Done, Progress, TextDelta

STAGED = [
    Progress("search", "searching: capital of France"),
    0.15,
    Progress("read", "reading 2 pages"),
    0.1,
    Progress("write", "writing from 2 excerpts"),
    0.05,
    TextDelta(ANSWER),
    Basis(ANSWER, ANSWER_BASIS, ANSWER_ANNOTATIONS),
    Done("stop", 10, 5),
]


def server_timing(header: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"(\w+);dur=([\d.]+)", header)}


async def test_a_json_answer_says_where_its_time_went(make_app: MakeApp) -> None:
    async with make_app(STAGED).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    timing = server_timing(response.headers["server-timing"])
    assert set(timing) == {"queue", "search", "read", "first_token", "generate", "overhead", "total"}
    assert 140 <= timing["search"] < 400
    assert 90 <= timing["read"] < 350
    assert timing["first_token"] >= timing["search"] + timing["read"]
    assert timing["total"] >= timing["first_token"]
    assert timing["overhead"] < 50  # the scripted engine spends nothing outside its stages
    assert timing["queue"] == 0


async def test_a_stream_sends_its_timing_in_the_last_chunk(make_app: MakeApp) -> None:
    async with make_app(STAGED).client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    last = sse_chunks(response.text)[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert 0.14 <= last["timing"]["search"] < 0.4
    assert last["timing"]["total"] >= last["timing"]["first_token"] > 0.25


async def test_stages_are_prometheus_histograms(make_app: MakeApp) -> None:
    sut = make_app(STAGED)
    async with sut.client() as client:
        await client.post("/v1/chat/completions", json=chat_body())
        await client.post("/v1/chat/completions", json=chat_body(stream=True))
        metrics = (await client.get("/metrics")).text
    for stage in ("queue", "search", "read", "first_token", "generate", "overhead", "total"):
        assert f'deepcite_stage_duration_seconds_count{{model="lite",stage="{stage}"}} 2.0' in metrics


async def test_time_in_the_queue_is_its_own_stage(make_app: MakeApp) -> None:
    sut = make_app(STAGED, queue_active=1, queue_waiting=1)
    async with sut.client() as client:
        running = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body()))
        await asyncio.sleep(0.05)  # it holds the one slot
        second = await client.post("/v1/chat/completions", json=chat_body(stream=True))
        first = await running
    assert server_timing(first.headers["server-timing"])["queue"] == 0
    assert sse_chunks(second.text)[-1]["timing"]["queue"] >= 0.2
