"""Talk to a running deepcite over HTTP: the client side of `deepcite ask --base-url`.

The server's SSE chunks are turned back into the engine's own events (`Progress`,
`TextDelta`, `Basis`, `Done`), so the terminal shows a remote answer exactly as it
shows one researched in-process. Errors, before or after the stream began, are
raised as `RemoteError` carrying the API's own message and status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx

from deepcite.errors import DeepciteError
from deepcite.research.basis import Citation, FieldBasis, UrlCitation
from deepcite.research.events import Basis, Done, Progress, ResearchEvent, TextDelta

# Research runs take seconds to tens of seconds; reading waits as long as the slowest profile.
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class RemoteError(DeepciteError):
    """The server answered with an error (or could not be reached)."""

    def __init__(self, message: str, *, status_code: int = 0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code


def api_base(base_url: str) -> str:
    """`http://host:8000` or `http://host:8000/v1` (as the openai SDK takes it) -> the `/v1` root."""
    base = base_url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def chat_body(model: str, question: str, schema: dict[str, Any] | None, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "stream": stream, "messages": [{"role": "user", "content": question}]}
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    return body


def _error_from(status: int, payload: Any) -> RemoteError:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return RemoteError(str(error["message"]), status_code=status, code=error.get("code"))
    return RemoteError(f"the server answered HTTP {status}", status_code=status)


def parse_basis(entries: list[dict[str, Any]]) -> list[FieldBasis]:
    return [
        FieldBasis(
            field=str(entry.get("field", "")),
            citations=[
                Citation(str(c.get("url", "")), c.get("title"), [str(x) for x in c.get("excerpts") or []])
                for c in entry.get("citations") or []
            ],
            reasoning=str(entry.get("reasoning", "")),
            confidence=cast(Any, entry.get("confidence", "low")),
        )
        for entry in entries
    ]


def parse_annotations(entries: list[dict[str, Any]]) -> list[UrlCitation]:
    spans = []
    for entry in entries:
        cite = entry.get("url_citation") or {}
        spans.append(UrlCitation(int(cite.get("start_index", 0)), int(cite.get("end_index", 0)),
                                 str(cite.get("url", "")), cite.get("title")))
    return spans


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The `data:` payloads of an SSE stream; comments (keep-alives, progress) are skipped."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if line:
            if line.startswith("data:"):
                lines.append(line[5:].strip())
            continue
        if lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


class RemoteDeepcite:
    """One deepcite server, reached at `base_url` with an optional API key."""

    def __init__(self, base_url: str, api_key: str | None = None, *, transport: httpx.AsyncBaseTransport | None = None):
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=api_base(base_url), headers=headers, timeout=TIMEOUT,
                                         transport=transport)

    async def __aenter__(self) -> RemoteDeepcite:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """The whole `chat.completion` body, as the server sent it."""
        try:
            response = await self._client.post("/chat/completions", json={**body, "stream": False})
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        payload = _json_or_none(response.text)
        if response.status_code != 200 or not isinstance(payload, dict):
            raise _error_from(response.status_code, payload)
        return payload

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[ResearchEvent]:
        """The answer as engine events, from the server's SSE chunks."""
        streamed: list[str] = []
        try:
            async with self._client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
                if response.status_code != 200:
                    raise _error_from(response.status_code, _json_or_none((await response.aread()).decode()))
                async for data in _sse_data(response):
                    if data == "[DONE]":
                        return
                    chunk = _json_or_none(data)
                    if not isinstance(chunk, dict):
                        continue
                    if "error" in chunk:
                        raise _error_from(response.status_code, chunk)
                    for event in _events_of(chunk, streamed):
                        yield event
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: httpx.HTTPError) -> RemoteError:
        return RemoteError(f"cannot reach deepcite at {self._client.base_url}: {exc or type(exc).__name__}")


def _events_of(chunk: dict[str, Any], streamed: list[str]) -> list[ResearchEvent]:
    events: list[ResearchEvent] = []
    extension = chunk.get("deepcite") or {}
    progress = extension.get("progress")
    if isinstance(progress, dict):
        events.append(Progress(cast(Any, str(progress.get("stage", ""))), str(progress.get("message", ""))))
    choices = chunk.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    if delta.get("content"):
        streamed.append(delta["content"])
        events.append(TextDelta(delta["content"]))
    finish = choices[0].get("finish_reason")
    if finish:
        content = extension.get("content")
        final = content if isinstance(content, str) else "".join(streamed)
        events.append(Basis(final, parse_basis(chunk.get("basis") or []), parse_annotations(delta.get("annotations") or [])))
        usage = chunk.get("usage") or {}
        events.append(Done(cast(Any, finish), int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))))
    return events


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
