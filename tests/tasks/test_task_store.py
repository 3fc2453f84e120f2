"""The task store on a real SQLite file: the queue's claims, leases, recovery and bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deepcite.tasks.store import MAX_ATTEMPTS, QueueFull, TaskStore


def _submit(store: TaskStore, queue_limit: int = 10) -> str:
    run = store.submit(owner="key-a", processor="lite", spec="{}", interaction_id="int_1", queue_limit=queue_limit)
    return run.run_id


def test_runs_are_claimed_oldest_first_and_only_once(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.sqlite3")
    first, second = _submit(store), _submit(store)
    other_process = TaskStore(tmp_path / "tasks.sqlite3")
    claims = [store.claim(30), other_process.claim(30), store.claim(30)]
    assert [c.run.run_id if c else None for c in claims] == [first, second, None]
    assert claims[0] is not None and claims[0].run.status == "running" and claims[0].run.attempts == 1


def test_the_queue_bound_refuses_beyond_it(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.sqlite3")
    _submit(store, queue_limit=2)
    _submit(store, queue_limit=2)
    with pytest.raises(QueueFull):
        _submit(store, queue_limit=2)
    store.claim(30)  # a running run no longer waits
    _submit(store, queue_limit=2)


def test_an_expired_lease_is_retried_once_then_failed_with_a_reason(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.sqlite3")
    run_id = _submit(store)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claim = store.claim(0.01)
        assert claim is not None and claim.run.attempts == attempt
        time.sleep(0.02)  # the holder dies: its lease runs out
    assert store.claim(30) is None  # recovery ran, nothing left to take
    run = store.get(run_id)
    assert run is not None and run.status == "failed"
    assert run.error is not None and "stopped" in run.error["message"]
    assert any("started again" in w for w in run.warnings)
    statuses = [e.data["run"]["status"] for e in store.events(run_id) if e.type == "task_run.state"]
    assert statuses == ["queued", "running", "queued", "running", "failed"]


def test_a_lost_claim_cannot_finish_the_run(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.sqlite3")
    _submit(store)
    stale = store.claim(0.01)
    time.sleep(0.02)
    fresh = store.claim(30)
    assert stale is not None and fresh is not None and fresh.run.run_id == stale.run.run_id
    assert store.renew(stale, 30) is None
    assert store.finish(stale, "completed", result={"x": 1}) is None
    done = store.finish(fresh, "completed", result={"type": "text", "content": "ok", "basis": []})
    assert done is not None and done.status == "completed" and done.result is not None


def test_cancelling_a_running_run_is_seen_at_renewal_and_wins_over_completion(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.sqlite3")
    queued_id, running_id = _submit(store), _submit(store)
    claim = store.claim(30)
    assert claim is not None and claim.run.run_id == queued_id
    cancelled = store.cancel(running_id)
    assert cancelled is not None and cancelled.status == "cancelled"  # it was still queued
    assert store.cancel(queued_id).status == "cancelling"  # type: ignore[union-attr]
    assert store.renew(claim, 30) == "cancelling"
    finished = store.finish(claim, "completed", result={})
    assert finished is not None and finished.status == "cancelled" and finished.result is None


def test_releasing_gives_the_run_back_without_counting_the_try(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.sqlite3")
    _submit(store)
    claim = store.claim(30)
    assert claim is not None
    store.release(claim)
    again = store.claim(30)
    assert again is not None and again.run.attempts == 1
