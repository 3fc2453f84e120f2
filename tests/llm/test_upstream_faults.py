"""An upstream LLM that stalls, only keeps the line alive, trickles or leaks addresses.

Each is a real HTTP server on 127.0.0.1 that misbehaves in one way; the model must
fail within its one deadline, with a message that names the problem and no address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.support.loopback import Loopback, LoopbackHandler, serve_in_thread

from deepcite.errors import UpstreamError
from deepcite.llm.base import ChatMessage, GenerationOptions
from deepcite.llm.upstream import UpstreamModel, scrub

DEADLINE = 1.0
QUICK = httpx.Timeout(connect=2.0, read=30.0, write=5.0, pool=2.0)  # read: longer than the deadline on purpose


class Misbehaving(Loopback):
    behaviour = "keep-alive"


class _Handler(LoopbackHandler):
    server: object

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        state: Misbehaving = self.server.state  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("content-length", "0")))
        if state.behaviour == "stall":
            state.stopping.wait(30)  # accepts, reads, never answers
            return
        if state.behaviour == "leaky-error":
            body = json.dumps({"error": {"message": "backend http://10.20.30.40:8001/v1 refused (10.20.30.40:8001)"}})
            self.send_body(500, "application/json", body.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        while not state.stopping.is_set():
            if state.behaviour == "keep-alive":
                self.wfile.write(b": keep-alive\n\n")  # a comment: alive, no content, ever
            else:  # "trickle": bytes, never a whole line
                self.wfile.write(b"d")
            self.wfile.flush()
            state.stopping.wait(0.05)


@pytest.fixture
def misbehaving() -> Iterator[Misbehaving]:
    with serve_in_thread(_Handler, Misbehaving) as server:
        yield server


async def fail_within(model: UpstreamModel, limit: float) -> UpstreamError:
    started = time.perf_counter()
    try:
        with pytest.raises(UpstreamError) as caught:
            async for _ in model.stream([ChatMessage("user", "Hi")], GenerationOptions(max_tokens=8)):
                pass
    finally:
        await model.aclose()
    assert time.perf_counter() - started < limit
    return caught.value


@pytest.mark.parametrize("behaviour", ["keep-alive", "trickle", "stall"])
async def test_one_deadline_bounds_the_generation_content_or_not(misbehaving: Misbehaving, behaviour: str) -> None:
    misbehaving.behaviour = behaviour
    model = UpstreamModel(misbehaving.url("/v1"), timeout=QUICK, total_seconds=DEADLINE)
    error = await fail_within(model, DEADLINE + 1.0)
    assert f"no complete answer within {DEADLINE:g}s" in error.message
    assert str(misbehaving.port) not in error.message and "127.0.0.1" not in error.message


async def test_the_upstreams_own_error_reaches_the_client_without_its_addresses(misbehaving: Misbehaving) -> None:
    misbehaving.behaviour = "leaky-error"
    error = await fail_within(UpstreamModel(misbehaving.url("/v1"), timeout=QUICK), 5.0)
    assert error.message == "upstream LLM answered 500: backend <address> refused (<address>)"


async def test_a_refused_connection_names_the_problem_not_the_address(unused_port: int) -> None:
    error = await fail_within(UpstreamModel(f"http://127.0.0.1:{unused_port}/v1", timeout=QUICK), 5.0)
    assert error.message.startswith("upstream LLM failed: ConnectError")
    assert str(unused_port) not in error.message and "127.0.0.1" not in error.message


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("connect to https://llm.internal:8443/v1/chat failed", "connect to <address> failed"),
        ("peer 192.168.1.20:11434 reset", "peer <address> reset"),
        ("bound to [fd00::1]:8000 and fe80:0:0:0:1:2:3:4", "bound to <address> and <address>"),
        ("vllm.svc.cluster.local:8000 and localhost:1234 are down", "<address> and <address> are down"),
        ("context length 4096 exceeded at 12:30", "context length 4096 exceeded at 12:30"),
    ],
)
def test_scrub_removes_addresses_and_keeps_the_rest(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed
