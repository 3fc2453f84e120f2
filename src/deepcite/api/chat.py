"""Run one research request and answer it as one JSON body or as a stream of SSE chunks.

Streaming: an error before the first byte is still a plain JSON error with its status
(we wait up to one heartbeat interval for the engine's first event before committing
to a 200); after that it is a final `data: {"error": ...}` event. JSON answers are not
streamed piece by piece: the engine may repair them after the fact, so their final
content is sent as one delta and every streamed JSON answer is valid.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.responses import JSONResponse, Response
from starlette.types import Receive

from deepcite.api.admission import Admission, AdmittedEvents
from deepcite.api.errors import error_body, unexpected_error
from deepcite.api.metrics import ApiMetrics
from deepcite.api.payloads import Completion
from deepcite.api.service import ResearchService
from deepcite.api.sse import DONE, ClosingStreamingResponse, Heartbeat, TickingSource, sse_comment, sse_data
from deepcite.api.timing import StageClock
from deepcite.errors import DeadlineExceededError, DeepciteError
from deepcite.research.answer import collect_answer
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta
from deepcite.research.request import ResearchRequest

logger = logging.getLogger("deepcite.api")


async def _aclose(events: AsyncIterator[ResearchEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

# Told each answer's interaction id and final content, to keep the turn for follow-ups.
Remember = Callable[[str, str], Awaitable[None]]


class ChatCompletions:
    def __init__(
        self,
        engine: ResearchService,
        metrics: ApiMetrics,
        *,
        heartbeat_seconds: float = 5.0,
        admission: Admission | None = None,
        timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.heartbeat_seconds = heartbeat_seconds
        self.admission = admission
        self.timeout = timeout  # seconds a request may take in all, its wait in the queue included
        self._stopping: set[asyncio.Task[None]] = set()

    async def respond(
        self, research: ResearchRequest, *, stream: bool, receive: Receive, remember: Remember | None = None
    ) -> Response:
        """The answer; `receive` (the request's, body already read) tells when the client left.

        A model whose queue is full refuses at once (503 with `retry-after`), before
        anything else is spent on the request.
        """
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout if self.timeout is not None else None
        events = self._events(research)
        clock = StageClock(started)
        if stream:
            return await self._stream(research, events, clock, deadline, remember)
        return await self._complete_unless_abandoned(research, events, clock, receive, deadline, remember)

    def _events(self, research: ResearchRequest) -> AsyncIterator[ResearchEvent]:
        if self.admission is None:
            return self.engine.run(research)
        ticket = self.admission.enter(research.model)
        return AdmittedEvents(ticket, lambda: self.engine.run(research))

    def _stop_in_background(self, answer: asyncio.Task[Response], events: AsyncIterator[ResearchEvent]) -> None:
        async def stop() -> None:
            await asyncio.wait({answer})
            await _aclose(events)  # gives its queue slot back once the research has really stopped
            if not answer.cancelled():
                answer.exception()  # retrieved: it was cancelled mid-flight, its error is no news

        task = asyncio.ensure_future(stop())
        self._stopping.add(task)  # held until done, or the loop could drop it
        task.add_done_callback(self._stopping.discard)

    async def _remember(self, remember: Remember | None, interaction_id: str, content: str) -> None:
        if remember is None:
            return
        try:
            await remember(interaction_id, content)
        except Exception:
            # The answer stands; only a later follow-up will miss this turn.
            logger.exception("cannot store interaction %s", interaction_id)

    def _first_token(self, model: str, stream: bool, started: float) -> None:
        self.metrics.time_to_first_token.labels(model=model, stream=str(stream).lower()).observe(
            time.perf_counter() - started
        )

    def _finished(self, model: str, done: Done | None, clock: StageClock) -> None:
        clock.finish()
        self.metrics.observe_stages(model, clock.durations())
        if done is not None:
            self.metrics.observe_tokens(model, done.prompt_tokens, done.completion_tokens)

    async def _complete_unless_abandoned(
        self,
        research: ResearchRequest,
        events: AsyncIterator[ResearchEvent],
        clock: StageClock,
        receive: Receive,
        deadline: float | None,
        remember: Remember | None,
    ) -> Response:
        # A client that hangs up on a long research stops it, as when streaming.
        answer = asyncio.create_task(self._complete(research, events, clock, remember))
        hang_up = asyncio.create_task(_disconnected(receive))
        timeout = max(0.0, deadline - time.monotonic()) if deadline is not None else None
        late = False
        try:
            await asyncio.wait({answer, hang_up}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            late = not answer.done() and not hang_up.done()
        finally:
            hang_up.cancel()
            if not answer.done():
                answer.cancel()
            if late:
                # Past the deadline the client hears so now; the research stops in the
                # background (a model mid-prompt only notices between tokens).
                self._stop_in_background(answer, events)
            else:
                await asyncio.wait({answer, hang_up})
                await _aclose(events)  # also when the task was cancelled before it began
        if late:
            raise DeadlineExceededError(f"The request took longer than its {self.timeout:g}s deadline; it was stopped.")
        if answer.cancelled():
            return Response(status_code=499)  # nobody is listening any more
        return answer.result()

    async def _complete(
        self,
        research: ResearchRequest,
        events: AsyncIterator[ResearchEvent],
        clock: StageClock,
        remember: Remember | None,
    ) -> Response:
        completion = Completion(model=research.model)
        first_text = True

        async def observe(event: ResearchEvent) -> None:
            nonlocal first_text
            clock.observe(event)
            if first_text and isinstance(event, TextDelta) and event.text:
                first_text = False
                self._first_token(research.model, False, clock.started)

        answer = await collect_answer(events, observe)
        self._finished(research.model, answer.done, clock)
        await self._remember(remember, completion.id, answer.content)
        body = completion.body(answer.content, answer.basis, answer.annotations, answer.done)
        return JSONResponse(body, headers={"server-timing": clock.header()})

    async def _stream(
        self,
        research: ResearchRequest,
        events: AsyncIterator[ResearchEvent],
        clock: StageClock,
        deadline: float | None,
        remember: Remember | None,
    ) -> Response:
        source = TickingSource(events, self.heartbeat_seconds, deadline=deadline)
        try:
            first = await source.next()
        except BaseException:
            await source.aclose()
            await _aclose(events)
            raise
        return ClosingStreamingResponse(
            self._sse(research, source, first, clock, remember), media_type="text/event-stream", headers=SSE_HEADERS
        )

    async def _sse(
        self,
        research: ResearchRequest,
        source: TickingSource[ResearchEvent],
        first: ResearchEvent | Heartbeat | None,
        clock: StageClock,
        remember: Remember | None,
    ) -> AsyncIterator[bytes]:
        started = clock.started
        completion = Completion(model=research.model)
        hold_text = research.json_schema is not None
        streamed: list[str] = []
        basis: Basis | None = None
        done: Done | None = None
        try:
            yield sse_data(completion.chunk({"role": "assistant", "content": ""}))
            # The role chunk was just sent: a heartbeat in its place would say nothing.
            event = await source.next() if isinstance(first, Heartbeat) else first
            while event is not None:
                if not isinstance(event, Heartbeat):
                    clock.observe(event)
                if isinstance(event, Heartbeat):
                    yield sse_comment("keep-alive")
                elif isinstance(event, Progress):
                    yield sse_comment(f"progress {event.stage} {event.message}")
                    yield sse_data(completion.progress_chunk(event))
                elif isinstance(event, TextDelta) and event.text and not hold_text:
                    if not streamed:
                        self._first_token(research.model, True, started)
                    streamed.append(event.text)
                    yield sse_data(completion.chunk({"content": event.text}))
                elif isinstance(event, Basis):
                    basis = event
                elif isinstance(event, Done):
                    done = event
                event = await source.next()
            self._finished(research.model, done, clock)
            for chunk in self._closing_chunks(completion, "".join(streamed), basis, done, clock):
                yield chunk
            await self._remember(remember, completion.id, basis.content if basis else "".join(streamed))
        except DeepciteError as exc:
            if exc.status_code >= 500:
                logger.error("research failed after streaming began: %s", exc.message)
            yield sse_data(error_body(exc))
        except Exception:
            logger.exception("unexpected error after streaming began")
            yield sse_data(error_body(unexpected_error()))
        finally:
            await source.aclose()
        yield DONE

    def _closing_chunks(
        self, completion: Completion, streamed: str, basis: Basis | None, done: Done | None, clock: StageClock
    ) -> list[bytes]:
        chunks: list[bytes] = []
        replaced: str | None = None
        if basis is not None and basis.content != streamed:
            if basis.content.startswith(streamed):
                if not streamed:
                    self._first_token(completion.model, True, clock.started)
                chunks.append(sse_data(completion.chunk({"content": basis.content[len(streamed) :]})))
            else:
                replaced = basis.content
        final = completion.final_chunk(
            basis.basis if basis else [],
            basis.annotations if basis else [],
            done,
            replaced_content=replaced,
            timing=clock.durations(),
        )
        chunks.append(sse_data(final))
        return chunks
