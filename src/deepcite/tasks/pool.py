"""A bounded pool of workers that take queued runs from the store and run them.

Each worker holds at most one run, so at most `workers` runs go on at once in this
process. A held run's lease is renewed while it goes on; the renewal also tells the
worker when the run was cancelled (from any process) or taken from it. Stopping the
pool gives unfinished runs back to the queue, so a restart runs them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from deepcite.errors import DeepciteError
from deepcite.tasks.runner import TaskRunner
from deepcite.tasks.runs import RunStore
from deepcite.tasks.store import Claim, TaskRun

log = logging.getLogger("deepcite.tasks")

OnFinished = Callable[[TaskRun], Awaitable[None]]


class WorkerPool:
    def __init__(
        self,
        store: RunStore,
        runner: TaskRunner,
        *,
        workers: int,
        lease_seconds: float,
        poll_seconds: float = 0.5,
        on_finished: OnFinished | None = None,
    ) -> None:
        self._store = store
        self._runner = runner
        self._workers = max(1, workers)
        self._lease = lease_seconds
        self._poll = poll_seconds
        self._on_finished = on_finished
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[dict[str, Any]]] = {}

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"task-worker-{i}") for i in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def wake(self) -> None:
        """A run was queued here: a free worker takes it now instead of at its next poll."""
        self._wake.set()

    def cancel_here(self, run_id: str) -> None:
        """Stop a run this process holds at once (others notice at their next lease renewal)."""
        task = self._running.get(run_id)
        if task is not None:
            task.cancel()

    async def _work(self) -> None:
        while True:
            try:
                claim = await self._store.claim(self._lease)
            except Exception:
                log.exception("cannot read the task queue")
                claim = None
            if claim is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                continue
            try:
                await self._execute(claim)
            except Exception:
                # A store that failed mid-run must not take the worker down; the lease brings the run back.
                log.exception("task run %s could not be finished", claim.run.run_id)

    async def _execute(self, claim: Claim) -> None:
        run_id = claim.run.run_id
        task = asyncio.create_task(self._runner.run(claim.run))
        self._running[run_id] = task
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(claim, task, lost))
        finished: TaskRun | None = None
        try:
            output = await task
            finished = await self._store.finish(claim, "completed", result=output)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # The pool is stopping: the run goes back to the queue for the next server.
                task.cancel()
                await self._store.release(claim)
                raise
            if not lost.is_set():
                finished = await self._store.finish(claim, "cancelled")
        except DeepciteError as exc:
            error = {"message": exc.message, "code": exc.code or exc.type}
            finished = await self._store.finish(claim, "failed", error=error)
        except Exception as exc:
            log.exception("task run %s failed", run_id)
            error = {"message": f"unexpected error: {type(exc).__name__}", "code": "server_error"}
            finished = await self._store.finish(claim, "failed", error=error)
        finally:
            keeper.cancel()
            self._running.pop(run_id, None)
        if finished is not None and self._on_finished is not None:
            try:
                await self._on_finished(finished)
            except Exception:
                log.exception("after task run %s finished", run_id)

    async def _keep_lease(self, claim: Claim, task: asyncio.Task[Any], lost: asyncio.Event) -> None:
        while not task.done():
            await asyncio.sleep(self._lease / 3)
            try:
                status = await self._store.renew(claim, self._lease)
            except Exception:
                log.exception("cannot renew the lease of %s", claim.run.run_id)
                continue
            if status is None:
                lost.set()  # another server took it over: stop without finishing it
                task.cancel()
            elif status == "cancelling":
                task.cancel()
