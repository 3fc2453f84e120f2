"""`TickingSource`: heartbeats while the source is quiet, and a prompt stop when closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from deepcite.api.sse import Heartbeat, TickingSource, sse_comment, sse_data


class Recorder:
    def __init__(self) -> None:
        self.stopped_by: type[BaseException] | None = None

    async def numbers(self, pause: float = 0.0) -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
                await asyncio.sleep(pause)
        except (asyncio.CancelledError, GeneratorExit) as exc:
            self.stopped_by = type(exc)
            raise


async def test_items_arrive_in_order_with_heartbeats_between() -> None:
    async def slow() -> AsyncIterator[str]:
        yield "a"
        await asyncio.sleep(0.25)
        yield "b"

    source = TickingSource(slow(), interval=0.1)
    seen = []
    while (item := await source.next()) is not None:
        seen.append(item)
    await source.aclose()
    assert seen[0] == "a" and seen[-1] == "b"
    assert Heartbeat() in seen
    assert set(seen[1:-1]) == {Heartbeat()}


async def test_closing_stops_a_source_suspended_at_yield() -> None:
    recorder = Recorder()
    source = TickingSource(recorder.numbers(), interval=1)
    assert await source.next() == 0
    await asyncio.sleep(0.05)  # the driver fills the queue, then waits to put more
    await source.aclose()
    assert recorder.stopped_by is GeneratorExit
    assert await source.next() is None


async def test_closing_cancels_a_source_that_is_waiting() -> None:
    recorder = Recorder()
    source = TickingSource(recorder.numbers(pause=30), interval=1)
    assert await source.next() == 0
    await source.aclose()
    assert recorder.stopped_by is asyncio.CancelledError


async def test_source_errors_are_raised_by_next() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise ValueError("boom")

    source = TickingSource(failing(), interval=1)
    assert await source.next() == 1
    with pytest.raises(ValueError, match="boom"):
        await source.next()
    await source.aclose()


def test_encoding() -> None:
    assert sse_data({"a": "é"}) == 'data: {"a":"é"}\n\n'.encode()
    assert sse_comment("two\nlines") == b": two lines\n\n"
