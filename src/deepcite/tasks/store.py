"""Task runs and their events in SQLite, written before a run is acknowledged.

The table is also the queue: a worker claims the oldest `queued` run in one
transaction, holds it under a lease it renews while the run goes on, and finishes
it with the claim's token. A run whose lease ran out (its server was killed) is
queued again once, or failed with the reason, by the next claim anywhere. Every
change of status is an event, so `/events` can replay a run from its start.

Methods are synchronous and short; the async callers use `asyncio.to_thread`.
Each call opens its own connection, so several server processes can share the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

Status = Literal["queued", "running", "cancelling", "completed", "failed", "cancelled"]
ACTIVE: tuple[Status, ...] = ("queued", "running", "cancelling")
# A run is tried at most this many times; a server dying twice under it fails it.
MAX_ATTEMPTS = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS task_runs (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    processor TEXT NOT NULL,
    spec TEXT NOT NULL,
    metadata TEXT,
    webhook TEXT,
    interaction_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claim_token TEXT,
    lease_until REAL,
    error TEXT,
    result TEXT,
    warnings TEXT
);
CREATE INDEX IF NOT EXISTS task_runs_by_status ON task_runs (status, created_at);
CREATE TABLE IF NOT EXISTS task_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS task_events_by_run ON task_events (run_id, seq);
"""


class QueueFull(Exception):
    """More runs are waiting than the queue may hold."""

    def __init__(self, waiting: int) -> None:
        super().__init__(f"{waiting} runs are waiting")
        self.waiting = waiting


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    return "trun_" + secrets.token_hex(16)


@dataclasses.dataclass(frozen=True)
class TaskRun:
    run_id: str
    owner: str
    status: Status
    processor: str
    spec: str
    metadata: dict[str, Any] | None
    webhook: dict[str, Any] | None
    interaction_id: str
    created_at: float
    modified_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    error: dict[str, Any] | None
    result: dict[str, Any] | None
    warnings: list[str]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def public(self) -> dict[str, Any]:
        """The run as Parallel's API shows it."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "is_active": self.is_active,
            "processor": self.processor,
            "metadata": self.metadata,
            "created_at": iso(self.created_at),
            "modified_at": iso(self.modified_at),
            "error": self.error,
            "warnings": self.warnings or None,
            "interaction_id": self.interaction_id,
        }


@dataclasses.dataclass(frozen=True)
class Claim:
    """A run a worker holds: only the holder of `token` may renew or finish it."""

    run: TaskRun
    token: str
    # The queue entry that carries the run, where the queue is a Redis stream.
    message_id: str | None = None


@dataclasses.dataclass(frozen=True)
class TaskEvent:
    seq: int
    run_id: str
    type: str
    data: dict[str, Any]
    created_at: float


_COLUMNS = (
    "run_id, owner, status, processor, spec, metadata, webhook, interaction_id, created_at, modified_at, "
    "started_at, finished_at, attempts, error, result, warnings"
)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _run(row: tuple[Any, ...]) -> TaskRun:
    return TaskRun(
        run_id=row[0], owner=row[1], status=row[2], processor=row[3], spec=row[4],
        metadata=_loads(row[5]), webhook=_loads(row[6]), interaction_id=row[7],
        created_at=row[8], modified_at=row[9], started_at=row[10], finished_at=row[11],
        attempts=row[12], error=_loads(row[13]), result=_loads(row[14]), warnings=_loads(row[15]) or [],
    )


class TaskStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._read() as db:
            # WAL: readers (pollers, /events) never wait for the worker writing progress.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction that holds the write lock from its start, so read-then-write is atomic."""
        with self._read() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- submitting and reading ---------------------------------------------------------

    def submit(
        self,
        *,
        owner: str,
        processor: str,
        spec: str,
        interaction_id: str,
        metadata: dict[str, Any] | None = None,
        webhook: dict[str, Any] | None = None,
        queue_limit: int,
        run_id: str | None = None,
    ) -> TaskRun:
        """Store a queued run (committed when this returns); `QueueFull` beyond `queue_limit` waiting runs."""
        now = time.time()
        run_id = run_id or new_run_id()
        with self._write() as db:
            (waiting,) = db.execute("SELECT COUNT(*) FROM task_runs WHERE status = 'queued'").fetchone()
            if waiting >= queue_limit:
                raise QueueFull(waiting)
            db.execute(
                "INSERT INTO task_runs (run_id, owner, status, processor, spec, metadata, webhook, interaction_id,"
                " created_at, modified_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                (run_id, owner, processor, spec, _dumps(metadata), _dumps(webhook), interaction_id, now, now),
            )
            run = self._get(db, run_id)
            self._state_event(db, run)
        return run

    def get(self, run_id: str) -> TaskRun | None:
        with self._read() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM task_runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def find_interaction(self, interaction_id: str) -> TaskRun | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM task_runs WHERE interaction_id = ? ORDER BY created_at DESC LIMIT 1",
                (interaction_id,),
            ).fetchone()
        return None if row is None else _run(row)

    def waiting(self) -> int:
        with self._read() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM task_runs WHERE status = 'queued'").fetchone()
        return int(count)

    def events(self, run_id: str, after: int = 0) -> list[TaskEvent]:
        with self._read() as db:
            rows = db.execute(
                "SELECT seq, run_id, type, data, created_at FROM task_events WHERE run_id = ? AND seq > ? ORDER BY seq",
                (run_id, after),
            ).fetchall()
        return [TaskEvent(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def add_event(self, run_id: str, type_: str, data: dict[str, Any]) -> None:
        with self._write() as db:
            self._event(db, run_id, type_, data)

    # -- the worker's side --------------------------------------------------------------

    def claim(self, lease_seconds: float) -> Claim | None:
        """Take the oldest queued run, after re-queueing (or failing) runs whose holder died."""
        now = time.time()
        with self._write() as db:
            self._recover(db, now)
            row = db.execute(
                "SELECT run_id FROM task_runs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            token = secrets.token_hex(8)
            db.execute(
                "UPDATE task_runs SET status = 'running', attempts = attempts + 1, claim_token = ?, lease_until = ?,"
                " started_at = ?, modified_at = ? WHERE run_id = ?",
                (token, now + lease_seconds, now, now, row[0]),
            )
            run = self._get(db, row[0])
            self._state_event(db, run)
        return Claim(run, token)

    def renew(self, claim: Claim, lease_seconds: float) -> Status | None:
        """Extend the lease; the run's status now (`cancelling` asks the holder to stop), None if it was lost."""
        now = time.time()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE task_runs SET lease_until = ? WHERE run_id = ? AND claim_token = ?"
                " AND status IN ('running', 'cancelling')",
                (now + lease_seconds, claim.run.run_id, claim.token),
            )
            if cursor.rowcount == 0:
                return None
            (status,) = db.execute("SELECT status FROM task_runs WHERE run_id = ?", (claim.run.run_id,)).fetchone()
        return status  # type: ignore[no-any-return]

    def finish(
        self,
        claim: Claim,
        status: Literal["completed", "failed", "cancelled"],
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> TaskRun | None:
        """End a claimed run; a run cancelled meanwhile stays cancelled. None when the claim was lost."""
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT status FROM task_runs WHERE run_id = ? AND claim_token = ?", (claim.run.run_id, claim.token)
            ).fetchone()
            if row is None or row[0] not in ("running", "cancelling"):
                return None
            final = "cancelled" if row[0] == "cancelling" else status
            db.execute(
                "UPDATE task_runs SET status = ?, result = ?, error = ?, finished_at = ?, modified_at = ?,"
                " claim_token = NULL, lease_until = NULL WHERE run_id = ?",
                (final, _dumps(result if final == "completed" else None), _dumps(error), now, now, claim.run.run_id),
            )
            run = self._get(db, claim.run.run_id)
            self._state_event(db, run)
        return run

    def release(self, claim: Claim) -> None:
        """Give a run back to the queue (the server is stopping); this try does not count."""
        now = time.time()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE task_runs SET status = 'queued', attempts = MAX(0, attempts - 1), claim_token = NULL,"
                " lease_until = NULL, modified_at = ? WHERE run_id = ? AND claim_token = ? AND status = 'running'",
                (now, claim.run.run_id, claim.token),
            )
            if cursor.rowcount:
                self._state_event(db, self._get(db, claim.run.run_id))

    def cancel(self, run_id: str) -> TaskRun | None:
        """Cancel a queued run at once, ask a running one to stop; a finished run is left as it is."""
        now = time.time()
        with self._write() as db:
            run = self._get_or_none(db, run_id)
            if run is None:
                return None
            if run.status == "queued":
                db.execute(
                    "UPDATE task_runs SET status = 'cancelled', finished_at = ?, modified_at = ? WHERE run_id = ?",
                    (now, now, run_id),
                )
            elif run.status == "running":
                db.execute("UPDATE task_runs SET status = 'cancelling', modified_at = ? WHERE run_id = ?", (now, run_id))
            else:
                return run
            run = self._get(db, run_id)
            self._state_event(db, run)
        return run

    # -- inside transactions ------------------------------------------------------------

    def _recover(self, db: sqlite3.Connection, now: float) -> None:
        expired = db.execute(
            "SELECT run_id, status, attempts FROM task_runs WHERE status IN ('running', 'cancelling')"
            " AND lease_until < ?",
            (now,),
        ).fetchall()
        for run_id, status, attempts in expired:
            if status == "cancelling":
                db.execute(
                    "UPDATE task_runs SET status = 'cancelled', claim_token = NULL, lease_until = NULL,"
                    " finished_at = ?, modified_at = ? WHERE run_id = ?",
                    (now, now, run_id),
                )
            elif attempts >= MAX_ATTEMPTS:
                error = {
                    "message": f"the server running this run stopped {attempts} times before it finished",
                    "code": "worker_lost",
                }
                db.execute(
                    "UPDATE task_runs SET status = 'failed', error = ?, claim_token = NULL, lease_until = NULL,"
                    " finished_at = ?, modified_at = ? WHERE run_id = ?",
                    (_dumps(error), now, now, run_id),
                )
            else:
                warnings = self._get(db, run_id).warnings + ["the server running this run stopped; it was started again"]
                db.execute(
                    "UPDATE task_runs SET status = 'queued', claim_token = NULL, lease_until = NULL, warnings = ?,"
                    " modified_at = ? WHERE run_id = ?",
                    (_dumps(warnings), now, run_id),
                )
            self._state_event(db, self._get(db, run_id))

    def _get_or_none(self, db: sqlite3.Connection, run_id: str) -> TaskRun | None:
        row = db.execute(f"SELECT {_COLUMNS} FROM task_runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def _get(self, db: sqlite3.Connection, run_id: str) -> TaskRun:
        run = self._get_or_none(db, run_id)
        if run is None:  # pragma: no cover - called only for rows this transaction holds
            raise KeyError(run_id)
        return run

    def _event(self, db: sqlite3.Connection, run_id: str, type_: str, data: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO task_events (run_id, type, data, created_at) VALUES (?, ?, ?, ?)",
            (run_id, type_, json.dumps(data, ensure_ascii=False), time.time()),
        )

    def _state_event(self, db: sqlite3.Connection, run: TaskRun) -> None:
        self._event(db, run.run_id, "task_run.state", {"run": run.public()})


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
