"""Fixtures shared by every test folder: a throw-away redis, the local test site, the sentence encoder."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from bench.harness import free_port
from tests.fetch.local_site import LocalSite, serve_local_site

from deepcite.llm.encoder import SentenceEncoder


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real, throw-away `redis-server` on a free loopback port (no persistence)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not shutil.which(binary):
        pytest.skip("redis-server is not installed (make redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def local_site() -> Iterator[LocalSite]:
    """The test web site of `tests/fetch/local_site.py`, served on a free loopback port."""
    with serve_local_site() as site:
        yield site


@pytest.fixture(scope="session")
def embedder() -> SentenceEncoder:
    """The real sentence encoder, loaded once (it holds no event-loop state) before any test's clock starts."""
    model = SentenceEncoder()
    asyncio.run(model.warm_up())
    return model
