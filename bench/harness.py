"""Run a real `deepcite serve` and load SQuAD: shared by the benchmarks and the e2e tests."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"
RESULTS = ROOT / "bench" / "results"
API_KEY = "local-test-key"


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc): each thread lists the children it started,
    and the server starts its model process from a worker thread."""
    try:
        return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    except OSError:  # gone meanwhile
        return []


@dataclasses.dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url + "/v1", api_key=API_KEY, max_retries=0, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def deepcite_env(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment plus `DEEPCITE_HOME`, the test key and `DEEPCITE_<NAME>` settings."""
    return {
        **os.environ,
        "DEEPCITE_HOME": str(home),
        "DEEPCITE_API_KEYS": API_KEY,
        **{f"DEEPCITE_{k.upper()}": v for k, v in settings.items()},
    }


def run_cli(home: Path, *args: str, timeout: float = 600, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `deepcite ARGS...` on `home` to completion; raises `CalledProcessError` when it fails."""
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "deepcite", *args],
        env=deepcite_env(home, **settings), capture_output=True, text=True, timeout=timeout, check=True,
    )


def start_server(home: Path, *, timeout: float = 120, **settings: str) -> RunningServer:
    """`deepcite serve` on a free loopback port with `DEEPCITE_<NAME>` settings; waits for /healthz."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deepcite", "serve", "--port", str(port)],
            env=deepcite_env(home, **settings), stdout=out, stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServerFailed(f"deepcite serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise ServerFailed(f"deepcite serve did not start: {log.read_text()[-3000:]}")
        time.sleep(0.2)


@dataclasses.dataclass(frozen=True)
class SquadQuestion:
    question: str
    answers: list[str]
    title: str
    context: str


def squad_questions(count: int, *, seed: int = 7) -> list[SquadQuestion]:
    """A fixed random sample, one question per paragraph so no article dominates."""
    data = json.loads(SQUAD.read_text())["data"]
    pool = []
    for article in data:
        for paragraph in article["paragraphs"]:
            qa = paragraph["qas"][0]
            pool.append(SquadQuestion(
                qa["question"].strip(), [a["text"] for a in qa["answers"]],
                article["title"].replace("_", " "), paragraph["context"],
            ))
    return random.Random(seed).sample(pool, count)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def write_result(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path
