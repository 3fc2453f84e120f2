"""The API tests' harness: a scripted research engine and ways to reach the app
(in process through ASGI, or over a real socket).

The engine is the one fake here: the API layer's tests need answers on cue (errors
at a given moment, pauses, hangs), which the real engine cannot give.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from deepcite.config import Settings
from deepcite.research.basis import Citation, FieldBasis, UrlCitation
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta
from deepcite.research.request import ResearchRequest
from deepcite.store.keys import KeyStore

# A step of a script: an event to yield, a pause in seconds, or an exception to raise.
Step = ResearchEvent | float | BaseException

ANSWER = "Paris is the capital of France [1]."
SOURCE = "https://example.org/france"
ANSWER_BASIS = [
    FieldBasis(
        field="content",
        citations=[Citation(url=SOURCE, title="France", excerpts=["Paris is the capital of France"])],
        reasoning="The page states it directly.",
        confidence="high",
    )
]
ANSWER_ANNOTATIONS = [UrlCitation(start_index=31, end_index=34, url=SOURCE, title="France")]


def answer_script(content: str = ANSWER, pieces: Sequence[str] | None = None) -> list[Step]:
    return [
        Progress(stage="search", message="searching: capital of France"),
        *(TextDelta(p) for p in (pieces if pieces is not None else [content[:10], content[10:]])),
        Basis(content=content, basis=ANSWER_BASIS, annotations=ANSWER_ANNOTATIONS),
        Done(finish_reason="stop", prompt_tokens=42, completion_tokens=9),
    ]


class ScriptedEngine:
    models = ["speed", "lite", "base", "core"]

    def __init__(self, script: Sequence[Step] | None = None) -> None:
        self.script = list(script) if script is not None else answer_script()
        self.requests: list[ResearchRequest] = []
        self.stopped_by: type[BaseException] | None = None
        self.finished = asyncio.Event()

    async def run(self, request: ResearchRequest) -> AsyncIterator[ResearchEvent]:
        self.requests.append(request)
        try:
            for step in self.script:
                if isinstance(step, int | float):
                    await asyncio.sleep(step)
                elif isinstance(step, BaseException):
                    raise step
                else:
                    yield step
        except (asyncio.CancelledError, GeneratorExit) as exc:
            self.stopped_by = type(exc)
            raise
        finally:
            self.finished.set()


@dataclasses.dataclass
class AppUnderTest:
    app: FastAPI
    engine: ScriptedEngine
    settings: Settings
    key_store: KeyStore

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=("203.0.113.7", 4321))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


MakeApp = Callable[..., "AppUnderTest"]


def chat_body(content: Any = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    return {"model": "lite", "messages": [{"role": "user", "content": content}], **fields}


@contextlib.asynccontextmanager
async def serve_app(app: FastAPI) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def sse_messages(text: str) -> list[tuple[str, Any]]:
    """An SSE body as ordered `("data", parsed JSON or "[DONE]")` and `("comment", text)` pairs."""
    messages: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith(":"):
                messages.append(("comment", line[1:].strip()))
            elif line.startswith("data: "):
                payload = line[len("data: ") :]
                messages.append(("data", payload if payload == "[DONE]" else json.loads(payload)))
    return messages


def sse_chunks(text: str) -> list[dict[str, Any]]:
    return [m for kind, m in sse_messages(text) if kind == "data" and m != "[DONE]"]
