"""Where task runs live, as the pool and the service use it: SQLite by default, Redis when configured.

Both stores are also the queue, with the same rules: a run is stored before it is
acknowledged, claimed by one worker at a time under a lease its worker renews, tried
at most twice when its worker dies, and finished only by the holder of its claim.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal, Protocol

from deepcite.config import Settings
from deepcite.tasks.store import Claim, Status, TaskEvent, TaskRun, TaskStore

Final = Literal["completed", "failed", "cancelled"]


class RunStore(Protocol):
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
        """Store a queued run; `QueueFull` beyond `queue_limit` waiting runs."""
        ...

    async def get(self, run_id: str) -> TaskRun | None: ...

    async def events(self, run_id: str, after: int = 0) -> list[TaskEvent]: ...

    async def add_event(self, run_id: str, type_: str, data: dict[str, Any]) -> None: ...

    async def claim(self, lease_seconds: float) -> Claim | None:
        """The next queued run for this worker, after taking up runs whose worker died."""
        ...

    async def renew(self, claim: Claim, lease_seconds: float) -> Status | None: ...

    async def finish(
        self, claim: Claim, status: Final, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> TaskRun | None: ...

    async def release(self, claim: Claim) -> None: ...

    async def cancel(self, run_id: str) -> TaskRun | None: ...

    async def aclose(self) -> None: ...


class SqliteRunStore:
    """`TaskStore`'s short synchronous transactions, each run in a worker thread."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

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
        return await asyncio.to_thread(
            self.store.submit, owner=owner, processor=processor, spec=spec, interaction_id=interaction_id,
            metadata=metadata, webhook=webhook, queue_limit=queue_limit,
        )

    async def get(self, run_id: str) -> TaskRun | None:
        return await asyncio.to_thread(self.store.get, run_id)

    async def events(self, run_id: str, after: int = 0) -> list[TaskEvent]:
        return await asyncio.to_thread(self.store.events, run_id, after)

    async def add_event(self, run_id: str, type_: str, data: dict[str, Any]) -> None:
        await asyncio.to_thread(self.store.add_event, run_id, type_, data)

    async def claim(self, lease_seconds: float) -> Claim | None:
        return await asyncio.to_thread(self.store.claim, lease_seconds)

    async def renew(self, claim: Claim, lease_seconds: float) -> Status | None:
        return await asyncio.to_thread(self.store.renew, claim, lease_seconds)

    async def finish(
        self, claim: Claim, status: Final, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> TaskRun | None:
        return await asyncio.to_thread(self.store.finish, claim, status, result=result, error=error)

    async def release(self, claim: Claim) -> None:
        await asyncio.to_thread(self.store.release, claim)

    async def cancel(self, run_id: str) -> TaskRun | None:
        return await asyncio.to_thread(self.store.cancel, run_id)

    async def aclose(self) -> None:
        """Nothing to release: connections live for one call."""


def build_run_store(settings: Settings) -> RunStore:
    if settings.redis_url:
        from deepcite.tasks.redis_store import RedisRunStore

        return RedisRunStore(settings.redis_url)
    return SqliteRunStore(TaskStore(settings.tasks_path))
