"""Both task stores, on a real SQLite file and a real Redis: claims, leases, recovery, the bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio

from deepcite.tasks.redis_store import RedisRunStore
from deepcite.tasks.runs import RunStore, SqliteRunStore
from deepcite.tasks.store import MAX_ATTEMPTS, QueueFull, TaskStore

OpenStore = Callable[[], RunStore]


@pytest.fixture(params=["sqlite", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens stores on one backing store, as several processes would."""
    opened: list[RunStore] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/1"
        async with redis.asyncio.Redis.from_url(url) as client:
            await client.flushdb()

        def make() -> RunStore:
            opened.append(RedisRunStore(url))
            return opened[-1]
    else:

        def make() -> RunStore:
            opened.append(SqliteRunStore(TaskStore(tmp_path / "tasks.sqlite3")))
            return opened[-1]

    yield make
    for store in opened:
        await store.aclose()


async def _submit(store: RunStore, queue_limit: int = 10) -> str:
    run = await store.submit(
        owner="key-a", processor="lite", spec="{}", interaction_id="int_1", metadata=None, webhook=None,
        queue_limit=queue_limit,
    )
    return run.run_id


async def test_runs_are_claimed_oldest_first_and_only_once(open_store: OpenStore) -> None:
    store, other_process = open_store(), open_store()
    first, second = await _submit(store), await _submit(store)
    claims = [await store.claim(30), await other_process.claim(30), await store.claim(30)]
    assert [c.run.run_id if c else None for c in claims] == [first, second, None]
    assert claims[0] is not None and claims[0].run.status == "running" and claims[0].run.attempts == 1


async def test_the_queue_bound_refuses_beyond_it(open_store: OpenStore) -> None:
    store = open_store()
    await _submit(store, queue_limit=2)
    await _submit(store, queue_limit=2)
    with pytest.raises(QueueFull):
        await _submit(store, queue_limit=2)
    await store.claim(30)  # a running run no longer waits
    await _submit(store, queue_limit=2)


async def test_an_expired_lease_is_retried_once_then_failed_with_a_reason(open_store: OpenStore) -> None:
    store = open_store()
    run_id = await _submit(store)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claim = await open_store().claim(0.01)  # each time another worker, which then dies
        assert claim is not None and claim.run.attempts == attempt
        await asyncio.sleep(0.05)
    assert await store.claim(0.01) is None  # recovery ran, nothing left to take
    run = await store.get(run_id)
    assert run is not None and run.status == "failed"
    assert run.error is not None and "stopped" in run.error["message"]
    assert any("started again" in w for w in run.warnings)
    statuses = [e.data["run"]["status"] for e in await store.events(run_id) if e.type == "task_run.state"]
    assert statuses == ["queued", "running", "queued", "running", "failed"]


async def test_a_lost_claim_cannot_finish_the_run(open_store: OpenStore) -> None:
    store = open_store()
    await _submit(store)
    stale = await open_store().claim(0.01)
    await asyncio.sleep(0.05)
    # Every server of a deployment has the same lease setting (Redis judges by the taker's).
    fresh = await store.claim(0.01)
    assert stale is not None and fresh is not None and fresh.run.run_id == stale.run.run_id
    assert await store.renew(stale, 30) is None
    assert await store.finish(stale, "completed", result={"x": 1}) is None
    done = await store.finish(fresh, "completed", result={"type": "text", "content": "ok", "basis": []})
    assert done is not None and done.status == "completed" and done.result is not None


async def test_cancelling_is_seen_at_renewal_and_wins_over_completion(open_store: OpenStore) -> None:
    store = open_store()
    running_id, queued_id = await _submit(store), await _submit(store)
    claim = await store.claim(30)
    assert claim is not None and claim.run.run_id == running_id
    cancelled = await store.cancel(queued_id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert await store.claim(30) is None  # the cancelled run is never started
    cancelling = await store.cancel(running_id)
    assert cancelling is not None and cancelling.status == "cancelling"
    assert await store.renew(claim, 30) == "cancelling"
    finished = await store.finish(claim, "completed", result={})
    assert finished is not None and finished.status == "cancelled" and finished.result is None


async def test_releasing_gives_the_run_back_without_counting_the_try(open_store: OpenStore) -> None:
    store = open_store()
    await _submit(store)
    claim = await store.claim(30)
    assert claim is not None
    await store.release(claim)
    again = await open_store().claim(30)
    assert again is not None and again.run.attempts == 1
