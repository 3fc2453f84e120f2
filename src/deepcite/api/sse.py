"""Server-sent events: encoding, and an event source that ticks while the engine is quiet.

The engine's iterator is driven by one task of its own so that waiting for it can time
out (to send a keep-alive) without cancelling it, and so that it is cancelled, and
closed, as soon as the reader stops: a client that hangs up stops the research.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from deepcite.errors import DeadlineExceededError

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"


def sse_data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def sse_comment(text: str) -> bytes:
    # A comment is one line; SSE readers (the openai SDK included) skip it.
    return b": " + " ".join(text.splitlines()).encode() + b"\n\n"


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """Nothing arrived for the heartbeat interval."""


@dataclasses.dataclass(frozen=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END = _End()


class TickingSource(Generic[T]):
    """Items of `source`, with a `Heartbeat` whenever `interval` seconds pass without one.

    `next()` raises what the source raised. `aclose()` cancels the driving task, which
    cancels the source where it waits, then closes it.
    """

    def __init__(self, source: AsyncIterator[T], interval: float, *, deadline: float | None = None) -> None:
        self._source = source
        self._interval = interval
        self._deadline = deadline  # `time.monotonic()` past which `next()` raises DeadlineExceededError
        self._queue: asyncio.Queue[T | _Failed | _End] = asyncio.Queue(maxsize=16)
        self._driver = asyncio.create_task(self._drive())
        self._pending: asyncio.Task[T | _Failed | _End] | None = None
        self._finished = False

    async def _drive(self) -> None:
        try:
            async for item in self._source:
                await self._queue.put(item)
        except Exception as exc:
            await self._queue.put(_Failed(exc))
        else:
            await self._queue.put(_END)
        finally:
            aclose = getattr(self._source, "aclose", None)
            if aclose is not None:
                await aclose()

    async def next(self) -> T | Heartbeat | None:
        """The next item, a `Heartbeat` after a quiet interval, or None at the end."""
        if self._finished:
            return None
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._queue.get())
        timeout = self._interval
        if self._deadline is not None:
            timeout = min(timeout, max(0.0, self._deadline - time.monotonic()))
        # asyncio.wait leaves the pending get alive on timeout, so no item is ever lost.
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                self._finished = True
                raise DeadlineExceededError("The request ran past its deadline; it was stopped.")
            return Heartbeat()
        item = self._pending.result()
        self._pending = None
        if isinstance(item, _End):
            self._finished = True
            return None
        if isinstance(item, _Failed):
            self._finished = True
            raise item.error
        return item

    async def aclose(self) -> None:
        self._finished = True
        if self._pending is not None:
            self._pending.cancel()
        if not self._driver.done():
            self._driver.cancel()
        # Wait for the source to be closed; a cancellation of our own caller still propagates.
        await asyncio.wait({self._driver})
        if not self._driver.cancelled():
            self._driver.exception()  # retrieved, so asyncio does not warn about it


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response that closes its body iterator however the stream ends.

    Starlette stops iterating when the client disconnects but leaves the generator
    suspended; closing it here runs its `finally` (which stops the research) at once
    instead of whenever the garbage collector gets to it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
