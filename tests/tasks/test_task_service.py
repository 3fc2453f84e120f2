"""The task service and its worker pool on a real SQLite store, with the API tests' scripted engine.

The engine is scripted so that runs last, fail or hang on cue; everything else is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.api.api_harness import ANSWER, ScriptedEngine, answer_script

from deepcite.errors import UpstreamError
from deepcite.tasks.runs import SqliteRunStore
from deepcite.tasks.service import RunNotCompletedError, RunStillActiveError, TaskService
from deepcite.tasks.spec import RunSpec
from deepcite.tasks.store import TaskStore

OWNER = "key-a"
SPEC = RunSpec(processor="lite", question="What is the capital of France?")

MakeService = Callable[..., TaskService]


async def _until_running(service: TaskService, run_id: str) -> None:
    for _ in range(500):
        if (await service.get(OWNER, run_id)).status == "running":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the run never started")


@pytest.fixture
async def service_for(tmp_path: Path) -> AsyncIterator[MakeService]:
    started: list[TaskService] = []

    def make(engine: ScriptedEngine, workers: int = 1) -> TaskService:
        store = SqliteRunStore(TaskStore(tmp_path / "tasks.sqlite3"))
        service = TaskService(store, engine.run, workers=workers, queue_limit=100, lease_seconds=30)
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()


async def test_runs_finish_with_the_answer_and_never_more_than_the_bound_at_once(service_for: MakeService) -> None:
    engine = ScriptedEngine([0.05, *answer_script()])
    service: TaskService = service_for(engine, 2)
    runs = [await service.submit(OWNER, SPEC) for _ in range(6)]
    peak = 0
    while True:
        peak = max(peak, service.pool.running)
        if not any([(await service.get(OWNER, r.run_id)).is_active for r in runs]):
            break
        await asyncio.sleep(0.01)
    assert 1 <= peak <= 2
    run, output = await service.result(OWNER, runs[0].run_id, 1)
    assert run.status == "completed"
    assert output["type"] == "text" and output["content"] == ANSWER
    assert output["basis"][0]["citations"][0]["url"] == "https://example.org/france"
    events = [e async for e in service.follow(OWNER, runs[0].run_id)]
    assert [e.type for e in events if e.type.startswith("task_run.progress")] == ["task_run.progress_msg.search"]


async def test_a_running_run_is_cancelled_and_its_research_stopped(service_for: MakeService) -> None:
    engine = ScriptedEngine([30.0, *answer_script()])
    service: TaskService = service_for(engine)
    run = await service.submit(OWNER, SPEC)
    await _until_running(service, run.run_id)
    with pytest.raises(RunStillActiveError):
        await service.result(OWNER, run.run_id, 0.05)
    await service.cancel(OWNER, run.run_id)
    final = await service.wait(OWNER, run.run_id, 5)
    assert final.status == "cancelled"
    assert engine.stopped_by is not None
    with pytest.raises(RunNotCompletedError):
        await service.result(OWNER, run.run_id, 0)


async def test_an_engine_error_fails_the_run_with_its_message(service_for: MakeService) -> None:
    engine = ScriptedEngine([UpstreamError("the search service is down")])
    service: TaskService = service_for(engine)
    run = await service.submit(OWNER, SPEC)
    final = await service.wait(OWNER, run.run_id, 5)
    assert final.status == "failed"
    assert final.error == {"message": "the search service is down", "code": "upstream_error"}


async def test_a_stopping_server_gives_its_runs_back_to_the_queue(service_for: MakeService) -> None:
    engine = ScriptedEngine([30.0, *answer_script()])
    service: TaskService = service_for(engine)
    run = await service.submit(OWNER, SPEC)
    await _until_running(service, run.run_id)
    await service.stop()
    back = await service.store.get(run.run_id)
    assert back is not None and back.status == "queued" and back.attempts == 0
