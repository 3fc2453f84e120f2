"""Drive one research run to its end and keep what a whole answer needs.

Shared by the non-streaming chat completion and the task runner, so both read the
engine's events the same way: the final content is the `Basis`'s (repaired JSON
included), the streamed text only when no basis came.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

from deepcite.research.basis import FieldBasis, UrlCitation
from deepcite.research.events import Basis, Done, ResearchEvent, TextDelta

EventHook = Callable[[ResearchEvent], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Answer:
    content: str
    basis: list[FieldBasis]
    annotations: list[UrlCitation]
    done: Done | None


async def collect_answer(events: AsyncIterator[ResearchEvent], on_event: EventHook | None = None) -> Answer:
    """The answer of `events`, each event shown to `on_event` first; the stream is closed however this ends."""
    texts: list[str] = []
    basis: Basis | None = None
    done: Done | None = None
    try:
        async for event in events:
            if on_event is not None:
                await on_event(event)
            if isinstance(event, TextDelta) and event.text:
                texts.append(event.text)
            elif isinstance(event, Basis):
                basis = event
            elif isinstance(event, Done):
                done = event
    finally:
        # The engine's stream is an async generator: closing it stops the research at once.
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    if basis is None:
        return Answer("".join(texts), [], [], done)
    return Answer(basis.content, basis.basis, basis.annotations, done)
