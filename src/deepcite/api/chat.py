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

from deepcite.api.errors import error_body, unexpected_error
from deepcite.api.metrics import ApiMetrics
from deepcite.api.payloads import Completion
from deepcite.api.service import ResearchService
from deepcite.api.sse import DONE, ClosingStreamingResponse, Heartbeat, TickingSource, sse_comment, sse_data
from deepcite.errors import DeepciteError
from deepcite.research.answer import collect_answer
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta
from deepcite.research.request import ResearchRequest

logger = logging.getLogger("deepcite.api")


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

# Told each answer's interaction id and final content, to keep the turn for follow-ups.
Remember = Callable[[str, str], Awaitable[None]]


class ChatCompletions:
    def __init__(self, engine: ResearchService, metrics: ApiMetrics, *, heartbeat_seconds: float = 5.0) -> None:
        self.engine = engine
        self.metrics = metrics
        self.heartbeat_seconds = heartbeat_seconds

    async def respond(
        self, research: ResearchRequest, *, stream: bool, receive: Receive, remember: Remember | None = None
    ) -> Response:
        """The answer; `receive` (the request's, body already read) tells when the client left."""
        started = time.perf_counter()
        if stream:
            return await self._stream(research, started, remember)
        return await self._complete_unless_abandoned(research, started, receive, remember)

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

    def _finished(self, model: str, done: Done | None) -> None:
        if done is not None:
            self.metrics.observe_tokens(model, done.prompt_tokens, done.completion_tokens)

    async def _complete_unless_abandoned(
        self, research: ResearchRequest, started: float, receive: Receive, remember: Remember | None
    ) -> Response:
        # A client that hangs up on a long research stops it, as when streaming.
        answer = asyncio.create_task(self._complete(research, started, remember))
        hang_up = asyncio.create_task(_disconnected(receive))
        try:
            await asyncio.wait({answer, hang_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hang_up.cancel()
            if not answer.done():
                answer.cancel()
            await asyncio.wait({answer, hang_up})
        if answer.cancelled():
            return Response(status_code=499)  # nobody is listening any more
        return answer.result()

    async def _complete(self, research: ResearchRequest, started: float, remember: Remember | None) -> Response:
        completion = Completion(model=research.model)
        first_text = True

        async def time_first_token(event: ResearchEvent) -> None:
            nonlocal first_text
            if first_text and isinstance(event, TextDelta) and event.text:
                first_text = False
                self._first_token(research.model, False, started)

        answer = await collect_answer(self.engine.run(research), time_first_token)
        self._finished(research.model, answer.done)
        await self._remember(remember, completion.id, answer.content)
        return JSONResponse(completion.body(answer.content, answer.basis, answer.annotations, answer.done))

    async def _stream(self, research: ResearchRequest, started: float, remember: Remember | None) -> Response:
        source = TickingSource(self.engine.run(research), self.heartbeat_seconds)
        try:
            first = await source.next()
        except BaseException:
            await source.aclose()
            raise
        return ClosingStreamingResponse(
            self._sse(research, source, first, started, remember), media_type="text/event-stream", headers=SSE_HEADERS
        )

    async def _sse(
        self,
        research: ResearchRequest,
        source: TickingSource[ResearchEvent],
        first: ResearchEvent | Heartbeat | None,
        started: float,
        remember: Remember | None,
    ) -> AsyncIterator[bytes]:
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
            for chunk in self._closing_chunks(completion, "".join(streamed), basis, done, started):
                yield chunk
            self._finished(research.model, done)
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
        self, completion: Completion, streamed: str, basis: Basis | None, done: Done | None, started: float
    ) -> list[bytes]:
        chunks: list[bytes] = []
        replaced: str | None = None
        if basis is not None and basis.content != streamed:
            if basis.content.startswith(streamed):
                if not streamed:
                    self._first_token(completion.model, True, started)
                chunks.append(sse_data(completion.chunk({"content": basis.content[len(streamed) :]})))
            else:
                replaced = basis.content
        final = completion.final_chunk(
            basis.basis if basis else [], basis.annotations if basis else [], done, replaced_content=replaced
        )
        chunks.append(sse_data(final))
        return chunks
