"""Two servers sharing one Redis: any of them takes a queued run, and each run executes exactly once."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from e2e_server import RunningServer, launch
from task_client import QUEUE_TEST_SETTINGS, TaskClient

RUNS = 6


@pytest.fixture
def two_servers(tmp_path: Path, redis_url: str) -> Iterator[list[RunningServer]]:
    url = redis_url.rsplit("/", 1)[0] + "/2"
    redis.Redis.from_url(url).flushdb()
    # Separate homes: nothing is shared but Redis.
    settings = {"redis_url": url, "task_workers": "1", **QUEUE_TEST_SETTINGS}
    servers = [launch(tmp_path / "a", **settings), launch(tmp_path / "b", **settings)]
    yield servers
    for server in servers:
        server.stop()


def test_each_run_executes_exactly_once_across_two_servers(two_servers: list[RunningServer]) -> None:
    clients = [TaskClient(server) for server in two_servers]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            runs = list(pool.map(lambda i: clients[i % 2].submit("Who won Super Bowl 50?"), range(RUNS)))
        for i, run in enumerate(runs):
            # Submitted to one server, read from the other.
            try:
                final = clients[(i + 1) % 2].poll(run["run_id"])
            except AssertionError as exc:
                raise AssertionError(f"{exc}; {_story(clients[0], run['run_id'], two_servers)}") from None
            assert final["status"] == "completed", final
        for run in runs:
            states = [e["run"]["status"] for e in clients[0].events(run["run_id"]) if e["type"] == "task_run.state"]
            assert states == ["queued", "running", "completed"], states
        for server in two_servers:
            assert "Traceback" not in server.log.read_text()
    finally:
        for client in clients:
            client.close()


def _story(client: TaskClient, run_id: str, servers: list[RunningServer]) -> str:
    """What a run that never ended went through, and the tail of each server's log (CI keeps nothing else)."""
    events = [(e["type"], e.get("message") or e.get("run", {}).get("status")) for e in client.events(run_id, so_far=True)]
    logs = "\n".join(f"--- server {n}:\n{s.log.read_text()[-4000:]}" for n, s in enumerate(servers))
    return f"events: {events}\n{logs}"
