"""The Task API against a real server: runs are stored, queued, run, followed, cancelled, survive a kill."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from e2e_server import RunningServer, launch
from task_client import MIRROR, OTHER_KEY, QUEUE_TEST_SETTINGS, SUPER_BOWL_QUESTION, TASK_WORKERS, TaskClient
from test_chat_e2e import SUPER_BOWL, check_basis

from deepcite.tasks.spec import AUTO_SCHEMA


@pytest.fixture
def tasks(task_server: RunningServer) -> Iterator[TaskClient]:
    client = TaskClient(task_server)
    yield client
    client.close()


def test_core_run_is_stored_polled_and_answered_with_basis(tasks: TaskClient, task_pages: dict[str, str]) -> None:
    run = tasks.submit(processor="core", metadata={"ticket": "T-1"})
    assert run["run_id"].startswith("trun_")
    assert run["status"] == "queued" and run["is_active"]
    assert run["processor"] == "core" and run["metadata"] == {"ticket": "T-1"}
    assert run["interaction_id"]

    finished = tasks.poll(run["run_id"])
    assert finished["status"] == "completed", finished
    assert finished["error"] is None

    response = tasks.result(run["run_id"])
    assert response.status_code == 200
    output = response.json()["output"]
    assert output["type"] == "text"
    assert "Super Bowl" in output["content"] or "Broncos" in output["content"]
    check_basis(output["basis"], task_pages)
    assert {SUPER_BOWL, MIRROR} & {c["url"] for c in output["basis"][0]["citations"]}

    events = tasks.events(run["run_id"])
    states = [e["run"]["status"] for e in events if e["type"] == "task_run.state"]
    assert states == ["queued", "running", "completed"]
    progress = [e for e in events if e["type"].startswith("task_run.progress_msg.")]
    assert any(e["stage"] == "search" for e in progress), "research progress is streamed as events"


def test_json_and_auto_output_schemas(tasks: TaskClient, task_pages: dict[str, str]) -> None:
    schema = {
        "type": "object",
        "properties": {"team": {"type": "string", "description": "The AFC team"}, "opponent": {"type": "string"}},
        "required": ["team", "opponent"],
        "additionalProperties": False,
    }
    json_run = tasks.submit(task_spec={"output_schema": {"type": "json", "json_schema": schema}})
    auto_run = tasks.submit({"event": "Super Bowl 50", "asked": "who won it"}, task_spec={"output_schema": {"type": "auto"}})
    for run, expected in ((json_run, schema), (auto_run, AUTO_SCHEMA)):
        response = tasks.result(run["run_id"])
        assert response.status_code == 200, response.text
        output = response.json()["output"]
        assert output["type"] == "json"
        jsonschema.validate(output["content"], expected)
        check_basis(output["basis"], task_pages)
        assert [b["field"] for b in output["basis"]][:2] == list(expected["properties"])


def test_result_waits_then_says_still_running_and_a_run_can_be_cancelled(tasks: TaskClient) -> None:
    run = tasks.submit(processor="core")
    early = tasks.result(run["run_id"], timeout=0)
    assert early.status_code == 408
    assert early.json()["error"]["code"] == "run_still_active"

    cancelled = tasks.http.post(f"/v1/tasks/runs/{run['run_id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] in {"cancelled", "cancelling"}
    final = tasks.poll(run["run_id"], until=30)
    assert final["status"] == "cancelled"
    assert tasks.result(run["run_id"]).status_code == 409


def test_another_key_cannot_see_a_run(tasks: TaskClient, task_server: RunningServer) -> None:
    run = tasks.submit()
    other = TaskClient(task_server, key=OTHER_KEY)
    try:
        run_id = run["run_id"]
        for response in (
            other.get(run_id),
            other.result(run_id, timeout=0),
            other.http.get(f"/v1/tasks/runs/{run_id}/events"),
            other.http.post(f"/v1/tasks/runs/{run_id}/cancel"),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "run_not_found"
        assert tasks.get(run_id).json()["status"] != "cancelled"
        anonymous = httpx.get(task_server.base_url + f"/v1/tasks/runs/{run_id}")
        assert anonymous.status_code == 401
    finally:
        other.close()
    assert tasks.poll(run["run_id"])["status"] == "completed"


def test_bad_submissions_name_the_field(tasks: TaskClient) -> None:
    cases = [
        ({"processor": "ultra9", "input": "x"}, "processor"),
        ({"processor": "lite"}, "input"),
        ({"processor": "lite", "input": "x", "task_spec": {"output_schema": {"type": "json", "json_schema": {"type": 5}}}},
         "task_spec.output_schema.json_schema"),
    ]
    for body, param in cases:
        response = tasks.http.post("/v1/tasks/runs", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == param


def _intervals(events: list[dict[str, Any]]) -> tuple[float, float]:
    """When the run started running and when it ended, from its state events' timestamps."""
    from datetime import datetime

    times = {e["run"]["status"]: datetime.fromisoformat(e["timestamp"]).timestamp() for e in events
             if e["type"] == "task_run.state"}
    return times["running"], times["completed"]


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = launch(tmp_path_factory.mktemp("queue"), task_workers=str(TASK_WORKERS), **QUEUE_TEST_SETTINGS)
    yield running
    running.stop()


def test_thirty_runs_at_once_keep_the_bound_and_all_finish(queue_server: RunningServer) -> None:
    tasks = TaskClient(queue_server)
    try:
        # Every tenth run is real research that holds a worker for seconds; the others find nothing
        # and end at once. So the test is short, and still the bound is reached and must hold.
        questions = [SUPER_BOWL_QUESTION if i % 10 == 0 else "Qzxv wplk frrb?" for i in range(30)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            runs = list(pool.map(tasks.submit, questions))
        assert len({r["run_id"] for r in runs}) == 30
        started = time.monotonic()
        finals = [tasks.poll(r["run_id"], until=600) for r in runs]
        assert all(f["status"] == "completed" for f in finals), [f["status"] for f in finals]
        spans = [_intervals(tasks.events(r["run_id"])) for r in runs]
        moments = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
        running = peak = 0
        for _, change in moments:
            running += change
            peak = max(peak, running)
        assert peak == TASK_WORKERS, f"{peak} runs ran at once: the bound is {TASK_WORKERS}"
        print(f"30 runs finished in {time.monotonic() - started:.1f}s with at most {peak} at once")
    finally:
        tasks.close()


def test_a_killed_server_picks_its_runs_up_again(tmp_path: Path) -> None:
    settings = {"task_workers": "1", "task_queue_limit": "2", "task_lease_seconds": "2", **QUEUE_TEST_SETTINGS}
    server = launch(tmp_path, **settings)
    client = TaskClient(server)
    try:
        run = client.submit(processor="core")
        deadline = time.monotonic() + 60
        while client.get(run["run_id"]).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        waiting = [client.submit() for _ in range(2)]
        refused = client.http.post("/v1/tasks/runs", json={"processor": "lite", "input": "one too many"})
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "queue_full"
        server.process.kill()  # SIGKILL: no chance to give the run back
        server.process.wait(timeout=10)
        client.close()

        server = launch(tmp_path, **settings)
        client = TaskClient(server)
        final = client.poll(run["run_id"])
        assert final["status"] == "completed" or (final["status"] == "failed" and final["error"]["message"]), final
        assert any("stopped" in w for w in final["warnings"] or []), final
        states = [e["run"]["status"] for e in client.events(run["run_id"]) if e["type"] == "task_run.state"]
        assert states[:4] == ["queued", "running", "queued", "running"]
        for queued in waiting:
            assert client.poll(queued["run_id"])["status"] == "completed"
    finally:
        client.close()
        server.stop()
