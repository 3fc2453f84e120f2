"""Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp server, OpenAI) as a `ChatModel`.

Streams `POST {base}/chat/completions` as server-sent events and yields the
content deltas. Transport and HTTP failures become `UpstreamError` carrying the
upstream's own message, with addresses scrubbed: API clients never learn where
the upstream lives (the log does). One deadline bounds the whole generation,
whether content arrives, only keep-alives do, or nothing at all.

A JSON Schema goes out in OpenAI's `response_format` shape (`type: json_schema`).
Servers that only know the older `{"type": "json_object", "schema": ...}` shape
(llama-cpp-python's server, Anyscale) reject it with an error naming
`response_format` (llama-cpp-python answers 500); the model then retries once in
that shape and keeps using it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Literal

import httpx

from deepcite.config import Settings
from deepcite.errors import UpstreamError
from deepcite.llm.base import ChatMessage, GenerationOptions

# `read` is how long the upstream may stay silent; `total` bounds the generation.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=20.0, write=20.0, pool=10.0)
DEFAULT_TOTAL_SECONDS = 60.0
# URLs, IPv4/IPv6 addresses and host:port pairs in an upstream's own messages.
_ADDRESS = re.compile(
    r"[a-z][a-z0-9+.-]*://\S+"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
    r"|\[[0-9a-f:.]+\](?::\d+)?|\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b"
    r"|\b[\w.-]+\.[a-z]{2,}:\d+\b"
    r"|\blocalhost(?::\d+)?\b",
    re.IGNORECASE,
)
logger = logging.getLogger(__name__)
# An estimate is enough upstream: ~4 characters per token for English BPE vocabularies.
CHARS_PER_TOKEN = 4

SchemaShape = Literal["json_schema", "json_object"]


class UpstreamModel:
    """A `ChatModel` that delegates generation to an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str = "",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        total_seconds: float = DEFAULT_TOTAL_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.total_seconds = total_seconds
        self.name = model or "upstream"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers, transport=transport)
        self._schema_shape: SchemaShape = "json_schema"

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamModel:
        return cls(
            settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            total_seconds=settings.llm_timeout,
        )

    def count_tokens(self, text: str) -> int:
        return -(-len(text) // CHARS_PER_TOKEN)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, messages: list[ChatMessage], options: GenerationOptions) -> AsyncGenerator[str, None]:
        deadline = time.monotonic() + self.total_seconds
        try:
            async with contextlib.AsyncExitStack() as stack:
                # Waiting for the status line counts against the deadline too.
                opening = stack.enter_async_context(self._open_stream(messages, options))
                try:
                    response = await asyncio.wait_for(opening, self.total_seconds)
                except TimeoutError as exc:
                    raise _DeadlinePassed from exc
                async for data in _sse_data(response, deadline):
                    if data == "[DONE]":
                        return
                    content = _content_delta(data)
                    if content:
                        yield content
        except _DeadlinePassed as exc:
            logger.warning("upstream LLM at %s: no complete answer within %gs", self.base_url, self.total_seconds)
            raise UpstreamError(f"upstream LLM gave no complete answer within {self.total_seconds:g}s") from exc
        except httpx.HTTPError as exc:
            logger.warning("upstream LLM at %s failed: %r", self.base_url, exc)
            raise UpstreamError(f"upstream LLM failed: {_describe(exc)}") from exc
        except UpstreamError as exc:
            logger.warning("upstream LLM at %s: %s", self.base_url, exc.message)
            raise

    @contextlib.asynccontextmanager
    async def _open_stream(
        self, messages: list[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[httpx.Response]:
        """The streaming response, once its status says the server accepted the request."""
        url = f"{self.base_url}/chat/completions"
        shapes: list[SchemaShape] = [self._schema_shape]
        if options.json_schema is not None and self._schema_shape == "json_schema":
            shapes.append("json_object")
        for shape in shapes:
            payload = self._payload(messages, options, shape)
            async with self._client.stream("POST", url, json=payload) as response:
                if response.is_success:
                    self._schema_shape = shape
                    yield response
                    return
                await response.aread()
                refused_shape = response.status_code in (400, 422, 500) and "response_format" in response.text
                if not (refused_shape and shape != shapes[-1]):
                    raise UpstreamError(
                        f"upstream LLM answered {response.status_code}: {scrub(_error_message(response))}"
                    )

    def _payload(
        self, messages: list[ChatMessage], options: GenerationOptions, shape: SchemaShape
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
        }
        if self.model:
            payload["model"] = self.model
        if options.stop:
            payload["stop"] = list(options.stop)
        if options.json_schema is not None and shape == "json_schema":
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": options.json_schema},
            }
        elif options.json_schema is not None:
            payload["response_format"] = {"type": "json_object", "schema": options.json_schema}
        return payload


class _DeadlinePassed(Exception):
    pass


async def _lines_until(response: httpx.Response, deadline: float) -> AsyncIterator[str]:
    """The response's lines, until `deadline` passes: keep-alives and trickles included."""
    lines = response.aiter_lines()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _DeadlinePassed
            try:
                yield await asyncio.wait_for(anext(lines), remaining)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise _DeadlinePassed from exc
    finally:
        await lines.aclose()  # type: ignore[attr-defined]


async def _sse_data(response: httpx.Response, deadline: float) -> AsyncIterator[str]:
    """The `data` of each server-sent event (multi-line data joined by newlines)."""
    lines: list[str] = []
    async for line in _lines_until(response, deadline):
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        # Comments (":"), `event:`, `id:` and `retry:` fields carry nothing we use.
    if lines:
        yield "\n".join(lines)


def _content_delta(data: str) -> str:
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise UpstreamError(f"upstream LLM sent an unreadable event: {scrub(data[:200])!r}") from exc
    if not isinstance(chunk, dict):
        raise UpstreamError(f"upstream LLM sent an unexpected event: {scrub(data[:200])!r}")
    if "error" in chunk:
        raise UpstreamError(f"upstream LLM failed mid-stream: {scrub(_message_of(chunk))}")
    choices = chunk.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    content = delta.get("content")
    return content if isinstance(content, str) else ""


def _error_message(response: httpx.Response) -> str:
    try:
        return _message_of(response.json())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500] or response.reason_phrase


def _message_of(body: Any) -> str:
    """OpenAI's `{"error": {"message": ...}}`, or FastAPI's `{"detail": ...}`, or the body."""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if error is not None:
            return str(error) if isinstance(error, str) else json.dumps(error)[:500]
    return json.dumps(body)[:500]


def scrub(text: str) -> str:
    """`text` with every URL, address and host:port replaced by `<address>`."""
    return _ADDRESS.sub("<address>", text)


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {scrub(str(exc))}" if str(exc) else type(exc).__name__
