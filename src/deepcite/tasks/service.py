"""Task runs as the API and the MCP tools see them: submit, read, wait, cancel, follow.

Every read is scoped to the caller that submitted the run: another caller gets the
same 404 as for a run that does not exist.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from deepcite.errors import DeepciteError, NotFoundError, ServiceUnavailableError
from deepcite.store.interactions import Interactions
from deepcite.tasks.pool import WorkerPool
from deepcite.tasks.runner import RunResearch, TaskRunner
from deepcite.tasks.runs import RunStore
from deepcite.tasks.spec import RunSpec
from deepcite.tasks.store import QueueFull, TaskEvent, TaskRun
from deepcite.tasks.webhooks import WebhookSender

POLL_SECONDS = 0.25


class QueueFullError(ServiceUnavailableError):
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)


class RunStillActiveError(DeepciteError):
    # Parallel answers a result that is not ready within `timeout` with a 408.
    status_code = 408
    type = "invalid_request_error"
    code = "run_still_active"


class RunNotCompletedError(DeepciteError):
    status_code = 409
    type = "invalid_request_error"
    code = "run_not_completed"


def new_interaction_id() -> str:
    return "int_" + secrets.token_hex(16)


class TaskService:
    def __init__(
        self,
        store: RunStore,
        run_research: RunResearch,
        *,
        workers: int,
        queue_limit: int,
        lease_seconds: float,
        webhooks: WebhookSender | None = None,
        interactions: Interactions | None = None,
    ) -> None:
        self.store = store
        self.queue_limit = queue_limit
        self.webhooks = webhooks
        self.interactions = interactions
        self.pool = WorkerPool(
            store,
            TaskRunner(store, run_research, interactions),
            workers=workers,
            lease_seconds=lease_seconds,
            on_finished=webhooks.notify if webhooks else None,
        )

    def start(self) -> None:
        self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
        if self.webhooks is not None:
            await self.webhooks.aclose()
        await self.store.aclose()

    async def submit(
        self,
        owner: str,
        spec: RunSpec,
        *,
        metadata: dict[str, Any] | None = None,
        webhook: dict[str, Any] | None = None,
        interaction_id: str | None = None,
    ) -> TaskRun:
        """Store the run (it is on disk when this returns) and wake a worker."""
        try:
            run = await self.store.submit(
                owner=owner,
                processor=spec.processor,
                spec=spec.to_json(),
                interaction_id=interaction_id or new_interaction_id(),
                metadata=metadata,
                webhook=webhook,
                queue_limit=self.queue_limit,
            )
        except QueueFull as exc:
            raise QueueFullError(
                f"{exc.waiting} task runs are already waiting; try again shortly.", retry_after=5.0
            ) from exc
        self.pool.wake()
        return run

    async def get(self, owner: str, run_id: str) -> TaskRun:
        run = await self.store.get(run_id)
        if run is None or run.owner != owner:
            raise NotFoundError(f"No task run with id {run_id!r}.", param="run_id", code="run_not_found")
        return run

    async def wait(self, owner: str, run_id: str, wait_seconds: float) -> TaskRun:
        """The run once it has ended, or `RunStillActiveError` after `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        while True:
            run = await self.get(owner, run_id)
            if not run.is_active:
                return run
            if time.monotonic() >= deadline:
                raise RunStillActiveError(
                    f"Task run {run_id} is still {run.status}; ask again for its result later.", param="timeout"
                )
            await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    async def result(self, owner: str, run_id: str, wait_seconds: float) -> tuple[TaskRun, dict[str, Any]]:
        run = await self.wait(owner, run_id, wait_seconds)
        if run.status != "completed" or run.result is None:
            reason = f": {run.error['message']}" if run.error else ""
            raise RunNotCompletedError(f"Task run {run_id} has no result, it is {run.status}{reason}.")
        return run, run.result

    async def cancel(self, owner: str, run_id: str) -> TaskRun:
        await self.get(owner, run_id)
        run = await self.store.cancel(run_id)
        if run is None:  # pragma: no cover - runs are never deleted
            raise NotFoundError(f"No task run with id {run_id!r}.", param="run_id", code="run_not_found")
        self.pool.cancel_here(run_id)
        return run

    async def follow(self, owner: str, run_id: str, after: int = 0) -> AsyncIterator[TaskEvent]:
        """The run's events from `after` on, then new ones as they come, until it has ended."""
        await self.get(owner, run_id)
        while True:
            # Status before events: the event of the last change is then always among those read.
            run = await self.store.get(run_id)
            for event in await self.store.events(run_id, after):
                after = event.seq
                yield event
            if run is None or not run.is_active:
                return
            await asyncio.sleep(POLL_SECONDS)
