"""Start and stop a real `deepcite serve` on a free loopback port."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

API_KEY = "e2e-secret-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: object) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url + "/v1", api_key=API_KEY, max_retries=0, **kwargs)  # type: ignore[arg-type]


def start_server(home: Path, **env: str) -> RunningServer:
    port = free_port()
    log = home / "server.log"
    environment = {
        **os.environ,
        "DEEPCITE_HOME": str(home),
        "DEEPCITE_API_KEYS": API_KEY,
        **{f"DEEPCITE_{k.upper()}": v for k, v in env.items()},
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deepcite", "serve", "--port", str(port)],
            env=environment, stdout=out, stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"deepcite serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"deepcite serve did not start: {log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
