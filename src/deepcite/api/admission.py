"""Back-pressure: a bounded queue per model, and an honest refusal beyond it.

Each model (research profile) runs at most `active` requests at once and lets at
most `waiting` more wait their turn, in order. A request beyond that, one whose
expected wait is longer than `max_wait`, or one whose expected wait plus its own run
would pass its deadline, is refused at once with a 503 whose `retry-after` is the
queue's expected drain time, instead of joining a line it would time out in. A waiting streaming client is told its place
through progress events (`AdmittedEvents`).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Callable

from deepcite.errors import ServiceUnavailableError
from deepcite.research.events import Progress, ResearchEvent

# How often a waiting request re-reads its place in line.
POSITION_INTERVAL = 1.0
# The guess of a request's duration before any has finished.
FIRST_GUESS_SECONDS = 2.0


class OverloadedError(ServiceUnavailableError):
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)


@dataclasses.dataclass
class _Waiter:
    admitted: asyncio.Future[None]


class ModelQueue:
    """At most `active` requests of one model at once, `waiting` more in line."""

    def __init__(
        self, model: str, *, active: int, waiting: int, deadline: float | None = None, max_wait: float | None = None
    ) -> None:
        self.model = model
        self.active_limit = max(1, active)
        self.waiting_limit = max(0, waiting)
        self.deadline = deadline  # a request's seconds in all: no use queueing one that cannot make it
        self.max_wait = max_wait  # the longest expected wait in line worth offering
        self.active = 0
        self._line: collections.deque[_Waiter] = collections.deque()
        self._seconds: float | None = None  # moving average of a request's time in a slot, once one finished

    @property
    def waiting(self) -> int:
        return len(self._line)

    def enter(self) -> Ticket:
        """A place: a slot now, or a place in line; `OverloadedError` when both are full."""
        if self.active < self.active_limit and not self._line:
            self.active += 1
            return Ticket(self, None)
        wait = self.retry_after()
        hopeless = self._seconds is not None and (
            (self.deadline is not None and wait + self._seconds > self.deadline)
            or (self.max_wait is not None and wait > self.max_wait)
        )
        if len(self._line) >= self.waiting_limit or hopeless:
            raise OverloadedError(
                f"The `{self.model}` model is at capacity ({self.active} running, {len(self._line)} waiting). "
                f"Please retry in {math.ceil(wait)}s.",
                retry_after=wait,
            )
        waiter = _Waiter(asyncio.get_running_loop().create_future())
        self._line.append(waiter)
        return Ticket(self, waiter)

    def retry_after(self) -> float:
        """Seconds until the line ahead of a newcomer has likely drained."""
        seconds = self._seconds if self._seconds is not None else FIRST_GUESS_SECONDS
        return seconds * (len(self._line) + 1) / self.active_limit

    def position(self, waiter: _Waiter) -> int:
        return self._line.index(waiter) + 1 if waiter in self._line else 0

    def _leave_line(self, waiter: _Waiter) -> None:
        if waiter in self._line:
            self._line.remove(waiter)

    def _release(self, held_seconds: float | None) -> None:
        if held_seconds is not None:
            known = self._seconds
            self._seconds = held_seconds if known is None else 0.8 * known + 0.2 * held_seconds
        # The slot passes straight to the next in line, so nobody overtakes them.
        while self._line:
            waiter = self._line.popleft()
            if not waiter.admitted.done():
                waiter.admitted.set_result(None)
                return
        self.active -= 1


class Ticket:
    """One request's place; `release()` (idempotent) gives the slot back or leaves the line."""

    def __init__(self, queue: ModelQueue, waiter: _Waiter | None) -> None:
        self._queue = queue
        self._waiter = waiter
        self._since: float | None = time.monotonic() if waiter is None else None
        self._released = False

    @property
    def admitted(self) -> bool:
        return self._waiter is None or self._waiter.admitted.done()

    async def wait(self) -> AsyncIterator[int]:
        """Yields the place in line whenever it changes; returns once admitted."""
        last = 0
        while self._waiter is not None and not self._waiter.admitted.done():
            position = self._queue.position(self._waiter)
            if position != last:
                last = position
                yield position
            await asyncio.wait({self._waiter.admitted}, timeout=POSITION_INTERVAL)
        if self._since is None:
            self._since = time.monotonic()

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._since is not None or (self._waiter is not None and self._waiter.admitted.done()):
            held = time.monotonic() - self._since if self._since is not None else None
            self._queue._release(held)
        elif self._waiter is not None:
            self._queue._leave_line(self._waiter)
            self._waiter.admitted.cancel()


class Admission:
    """The queues of every model, made on first use."""

    def __init__(
        self, *, active: int, waiting: int, deadline: float | None = None, max_wait: float | None = None
    ) -> None:
        self.active = active
        self.waiting = waiting
        self.deadline = deadline
        self.max_wait = max_wait
        self.queues: dict[str, ModelQueue] = {}

    def enter(self, model: str) -> Ticket:
        queue = self.queues.get(model)
        if queue is None:
            queue = ModelQueue(
                model, active=self.active, waiting=self.waiting, deadline=self.deadline, max_wait=self.max_wait
            )
            self.queues[model] = queue
        return queue.enter()


class AdmittedEvents:
    """The research's events once its ticket is admitted, preceded by its place in line.

    An async iterator of its own (not a generator) so that `aclose()` gives the place
    back even when iteration never began.
    """

    def __init__(self, ticket: Ticket, start: Callable[[], AsyncIterator[ResearchEvent]]) -> None:
        self._ticket = ticket
        self._start = start
        self._positions: AsyncIterator[int] | None = ticket.wait()
        self._events: AsyncIterator[ResearchEvent] | None = None

    def __aiter__(self) -> AdmittedEvents:
        return self

    async def __anext__(self) -> ResearchEvent:
        try:
            if self._positions is not None:
                try:
                    position = await anext(self._positions)
                except StopAsyncIteration:
                    self._positions = None
                else:
                    waiting = self._ticket._queue.waiting
                    return Progress("queue", f"waiting for a free slot: position {position} of {waiting}")
            if self._events is None:
                self._events = self._start()
            return await anext(self._events)
        except BaseException:
            # The end, a failure or a cancellation: the slot is free for the next.
            await self.aclose()
            raise

    async def aclose(self) -> None:
        self._ticket.release()
        events, self._events = self._events, None
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
