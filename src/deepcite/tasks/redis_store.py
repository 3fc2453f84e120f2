"""Task runs in Redis, queued on a Redis stream read by one consumer group.

Why a stream and its consumer group rather than a job library: the group already is
the queue semantics the SQLite store has. `XREADGROUP` hands each entry to one
consumer (any process, any machine); the entry stays pending for that consumer until
it is acknowledged; its idle time is the lease, renewed by `XCLAIM`ing it again; and
`XAUTOCLAIM` lets a live worker take over an entry whose worker died. arq and saq
would add their own job records, retry rules and result keys next to ours (arq
also notices a dead worker only when the job's whole timeout has passed).

Records: `run:<id>` holds the run as JSON, `events:<id>` its events (a list, so an
event's number is its position), `queued` the ids waiting (the queue's bound).
Changes of a record go through WATCH/MULTI, so a cancel and a finish cannot both win.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio
import redis.exceptions

from deepcite.errors import ServiceUnavailableError
from deepcite.tasks.runs import Final
from deepcite.tasks.store import MAX_ATTEMPTS, Claim, QueueFull, Status, TaskEvent, TaskRun, new_run_id

PREFIX = "deepcite:tasks:"
STREAM = PREFIX + "queue"
GROUP = "workers"
QUEUED = PREFIX + "queued"
_RUN_FIELDS = {f.name for f in dataclasses.fields(TaskRun)}

Record = dict[str, Any]
Change = Callable[[Record], Record | None]


def _run(record: Record) -> TaskRun:
    return TaskRun(**{k: v for k, v in record.items() if k in _RUN_FIELDS})


class RedisRunStore:
    def __init__(self, url: str) -> None:
        self._redis = redis.asyncio.Redis.from_url(url, decode_responses=True)
        # One consumer per process: its pending entries are the runs it holds.
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._group_ready = False

    async def aclose(self) -> None:
        await self._redis.aclose()

    # -- records ------------------------------------------------------------------------

    async def submit(
        self,
        *,
        owner: str,
        processor: str,
        spec: str,
        interaction_id: str,
        metadata: dict[str, Any] | None,
        webhook: dict[str, Any] | None,
        queue_limit: int,
    ) -> TaskRun:
        await self._ensure_group()
        now = time.time()
        record: Record = {
            "run_id": new_run_id(), "owner": owner, "status": "queued", "processor": processor, "spec": spec,
            "metadata": metadata, "webhook": webhook, "interaction_id": interaction_id, "created_at": now,
            "modified_at": now, "started_at": None, "finished_at": None, "attempts": 0, "error": None,
            "result": None, "warnings": [], "claim_token": None,
        }
        run = _run(record)
        try:
            # The bound is read, then written: across processes it may be passed by a few runs.
            waiting = await self._redis.scard(QUEUED)
            if waiting >= queue_limit:
                raise QueueFull(waiting)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._run_key(run.run_id), json.dumps(record))
                pipe.rpush(self._events_key(run.run_id), self._state_event(run))
                pipe.sadd(QUEUED, run.run_id)
                pipe.xadd(STREAM, {"run_id": run.run_id})
                await pipe.execute()
        except redis.exceptions.RedisError as exc:
            raise ServiceUnavailableError("The task store (Redis) is unavailable; try again shortly.") from exc
        return run

    async def get(self, run_id: str) -> TaskRun | None:
        raw = await self._redis.get(self._run_key(run_id))
        return None if raw is None else _run(json.loads(raw))

    async def events(self, run_id: str, after: int = 0) -> list[TaskEvent]:
        items = await self._redis.lrange(self._events_key(run_id), after, -1)
        events = []
        for seq, item in enumerate(items, start=after + 1):
            data = json.loads(item)
            events.append(TaskEvent(seq, run_id, data["type"], data["data"], data["created_at"]))
        return events

    async def add_event(self, run_id: str, type_: str, data: dict[str, Any]) -> None:
        await self._redis.rpush(self._events_key(run_id), _event(type_, data))

    async def cancel(self, run_id: str) -> TaskRun | None:
        def change(record: Record) -> Record | None:
            if record["status"] == "queued":
                return {**record, "status": "cancelled", "finished_at": time.time()}
            if record["status"] == "running":
                return {**record, "status": "cancelling"}
            return None

        # A cancelled run's stream entry stays until a worker reads it and drops it.
        await self._update(run_id, change, lambda pipe, new: pipe.srem(QUEUED, run_id))
        return await self.get(run_id)

    # -- the worker's side --------------------------------------------------------------

    async def claim(self, lease_seconds: float) -> Claim | None:
        await self._ensure_group()
        lease_ms = max(1, int(lease_seconds * 1000))
        # Entries idle longer than a lease belong to a worker that stopped renewing them.
        _, orphans, *_ = await self._redis.xautoclaim(STREAM, GROUP, self.consumer, lease_ms, "0-0", count=10)
        for message_id, fields in orphans:
            claim = await self._take_over(message_id, fields["run_id"], lease_ms)
            if claim is not None:
                return claim
        while True:
            read: Any = await self._redis.xreadgroup(GROUP, self.consumer, {STREAM: ">"}, count=1)
            entries = _stream_entries(read)
            if not entries:
                return None
            message_id, fields = entries[0]
            claim = await self._start(message_id, fields["run_id"])
            if claim is not None:
                return claim

    async def renew(self, claim: Claim, lease_seconds: float) -> Status | None:
        run = await self._redis.get(self._run_key(claim.run.run_id))
        record = json.loads(run) if run else None
        if record is None or record["claim_token"] != claim.token or record["status"] not in ("running", "cancelling"):
            return None
        if claim.message_id is not None:
            await self._redis.xclaim(STREAM, GROUP, self.consumer, 0, [claim.message_id], justid=True)
        status: Status = record["status"]
        return status

    async def finish(
        self, claim: Claim, status: Final, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> TaskRun | None:
        def change(record: Record) -> Record | None:
            if record["claim_token"] != claim.token or record["status"] not in ("running", "cancelling"):
                return None
            final = "cancelled" if record["status"] == "cancelling" else status
            return {
                **record, "status": final, "result": result if final == "completed" else None, "error": error,
                "finished_at": time.time(), "claim_token": None,
            }

        new = await self._update(claim.run.run_id, change, lambda pipe, _: self._drop(pipe, claim.message_id))
        return None if new is None else _run(new)

    async def release(self, claim: Claim) -> None:
        def change(record: Record) -> Record | None:
            if record["claim_token"] != claim.token or record["status"] != "running":
                return None
            return {**record, "status": "queued", "attempts": max(0, record["attempts"] - 1), "claim_token": None}

        def requeue(pipe: Any, _: Record) -> None:
            self._drop(pipe, claim.message_id)
            pipe.sadd(QUEUED, claim.run.run_id)
            pipe.xadd(STREAM, {"run_id": claim.run.run_id})

        await self._update(claim.run.run_id, change, requeue)

    # -- inside ---------------------------------------------------------------------------

    async def _take_over(self, message_id: str, run_id: str, lease_ms: int) -> Claim | None:
        """A run whose worker died: failed when it had its tries, else started again here."""
        run = await self.get(run_id)
        if run is None or run.status not in ("running", "cancelling"):
            await self._ack(message_id)
            return None
        if run.status == "cancelling" or run.attempts >= MAX_ATTEMPTS:
            reason = {
                "message": f"the server running this run stopped {run.attempts} times before it finished",
                "code": "worker_lost",
            }

            def end(record: Record) -> Record:
                if record["status"] == "cancelling":
                    return {**record, "status": "cancelled", "finished_at": time.time(), "claim_token": None}
                return {**record, "status": "failed", "error": reason, "finished_at": time.time(), "claim_token": None}

            await self._update(run_id, end, lambda pipe, _: self._drop(pipe, message_id))
            return None

        def requeue(record: Record) -> Record:
            warning = "the server running this run stopped; it was started again"
            return {**record, "status": "queued", "claim_token": None, "warnings": [*record["warnings"], warning]}

        await self._update(run_id, requeue)
        return await self._start(message_id, run_id)

    async def _start(self, message_id: str, run_id: str) -> Claim | None:
        token = secrets.token_hex(8)

        def change(record: Record) -> Record | None:
            if record["status"] != "queued":
                return None
            now = time.time()
            return {
                **record, "status": "running", "attempts": record["attempts"] + 1, "claim_token": token,
                "started_at": now,
            }

        new = await self._update(run_id, change, lambda pipe, _: pipe.srem(QUEUED, run_id))
        if new is None:
            await self._ack(message_id)  # cancelled (or gone) while it waited
            return None
        return Claim(_run(new), token, message_id)

    async def _update(
        self, run_id: str, change: Change, also: Callable[[Any, Record], Any] | None = None
    ) -> Record | None:
        """Apply `change` to the record atomically (and `also` in the same transaction); None: unchanged."""
        key = self._run_key(run_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    new = change(json.loads(raw)) if raw is not None else None
                    if new is None:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return None
                    new["modified_at"] = time.time()
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, json.dumps(new))
                    pipe.rpush(self._events_key(run_id), self._state_event(_run(new)))
                    if also is not None:
                        also(pipe, new)
                    await pipe.execute()
                    return new
                except redis.exceptions.WatchError:
                    continue

    def _drop(self, pipe: Any, message_id: str | None) -> None:
        if message_id is not None:
            pipe.xack(STREAM, GROUP, message_id)
            pipe.xdel(STREAM, message_id)

    async def _ack(self, message_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._drop(pipe, message_id)
            await pipe.execute()

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    @staticmethod
    def _run_key(run_id: str) -> str:
        return f"{PREFIX}run:{run_id}"

    @staticmethod
    def _events_key(run_id: str) -> str:
        return f"{PREFIX}events:{run_id}"

    @staticmethod
    def _state_event(run: TaskRun) -> str:
        return _event("task_run.state", {"run": run.public()})


def _stream_entries(read: Any) -> list[tuple[str, dict[str, str]]]:
    """The entries of an XREADGROUP answer, whichever protocol (RESP2 list, RESP3 map) gave it."""
    if not read:
        return []
    streams = read.values() if isinstance(read, dict) else [item[1] for item in read]
    return [(message_id, fields) for entries in streams for message_id, fields in entries]


def _event(type_: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": type_, "data": data, "created_at": time.time()}, ensure_ascii=False)
