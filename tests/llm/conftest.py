"""Shared fixtures of the LLM tests: the real embedded model, loaded once, and a real
OpenAI-compatible server (llama-cpp-python's own) on a free loopback port."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.harness import free_port

from deepcite.config import Settings
from deepcite.llm.embedded import DEFAULT_MODEL, EmbeddedModel
from deepcite.llm.model_files import MODEL_FILES

SERVER_START_SECONDS = 60.0


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """The small model: these tests are about the mechanics of running one, not its answers."""
    return MODEL_FILES["smollm2-135m"].path(Path("unused"))


@pytest.fixture(scope="session")
def embedded_model(gguf_path: Path) -> Iterator[EmbeddedModel]:
    model = EmbeddedModel(gguf_path, context=2048, threads=2)
    asyncio.run(model.load())
    yield model
    asyncio.run(model.aclose())


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (ending in /v1) of a running `python -m llama_cpp.server` with the small model."""
    yield from _llama_server(gguf_path, tmp_path_factory)


@pytest.fixture(scope="session")
def default_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's OpenAI server with the default embedded model: an upstream as capable as it."""
    yield from _llama_server(MODEL_FILES[DEFAULT_MODEL].path(Settings.load({}).model_cache), tmp_path_factory)


def _llama_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server",
                "--model", str(gguf_path),
                "--host", "127.0.0.1", "--port", str(port),
                "--n_ctx", "2048", "--n_threads", "2",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1.0).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in {SERVER_START_SECONDS}s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
