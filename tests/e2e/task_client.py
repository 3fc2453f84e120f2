"""A small client of the Task API for the e2e tests: submit, poll, wait, read the events."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from e2e_server import API_KEY, RunningServer

SUPER_BOWL_QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
OTHER_KEY = "another-test-key"  # the task server's second key
TASK_WORKERS = 2  # the task server's bound on runs at once
MIRROR = "https://mirror.example/super-bowl-50"  # a copy of a corpus page in the task server's index
# Where the queue, not the answers, is under test, the smallest model keeps the runs short.
QUEUE_TEST_SETTINGS = {"llm_embedded": "smollm2-135m", "rate_limit": "100000/minute"}


class TaskClient:
    def __init__(self, server: RunningServer, key: str = API_KEY) -> None:
        self.http = httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {key}"}, timeout=60)

    def submit(
        self, input_: str | dict[str, Any] = SUPER_BOWL_QUESTION, processor: str = "lite", **fields: Any
    ) -> dict[str, Any]:
        response = self.http.post("/v1/tasks/runs", json={"processor": processor, "input": input_, **fields})
        assert response.status_code == 202, response.text
        run: dict[str, Any] = response.json()
        return run

    def get(self, run_id: str) -> httpx.Response:
        return self.http.get(f"/v1/tasks/runs/{run_id}")

    def poll(self, run_id: str, *, until: float = 180) -> dict[str, Any]:
        """The run once it is no longer active, read every 0.2 s."""
        deadline = time.monotonic() + until
        while True:
            response = self.get(run_id)
            assert response.status_code == 200, response.text
            run: dict[str, Any] = response.json()
            if not run["is_active"]:
                return run
            assert time.monotonic() < deadline, f"run still {run['status']} after {until}s"
            time.sleep(0.2)

    def result(self, run_id: str, timeout: float = 180) -> httpx.Response:
        return self.http.get(f"/v1/tasks/runs/{run_id}/result", params={"timeout": timeout}, timeout=timeout + 30)

    def events(self, run_id: str, *, so_far: bool = False) -> list[dict[str, Any]]:
        """Every event of the run, read from its SSE stream until the stream ends;
        `so_far`: of a run still going, those that came before 3 s without news."""
        events = []
        with self.http.stream("GET", f"/v1/tasks/runs/{run_id}/events", timeout=3 if so_far else 180) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            try:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[len("data: ") :]))
            except httpx.ReadTimeout:
                if not so_far:
                    raise
        return events

    def close(self) -> None:
        self.http.close()
