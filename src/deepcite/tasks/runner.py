"""Run one task through the research engine and shape its result as Parallel's `output`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from deepcite.research.answer import collect_answer
from deepcite.research.events import Progress, ResearchEvent
from deepcite.research.request import ResearchRequest
from deepcite.tasks.runs import RunStore
from deepcite.tasks.spec import RunSpec
from deepcite.tasks.store import TaskRun

# The engine's entry point: `ResearchEngine.run`, or the server's handle on it.
RunResearch = Callable[[ResearchRequest], AsyncIterator[ResearchEvent]]


class TaskRunner:
    def __init__(self, store: RunStore, run_research: RunResearch) -> None:
        self._store = store
        self._run_research = run_research

    async def run(self, run: TaskRun) -> dict[str, Any]:
        """The run's `output` ({type, content, basis}); its progress is recorded as events on the way."""
        spec = RunSpec.from_json(run.spec)

        async def record(event: ResearchEvent) -> None:
            if isinstance(event, Progress):
                data = {"stage": event.stage, "message": event.message}
                await self._store.add_event(run.run_id, f"task_run.progress_msg.{event.stage}", data)

        answer = await collect_answer(self._run_research(spec.research_request()), record)
        content: Any = json.loads(answer.content) if spec.output_type == "json" else answer.content
        return {
            "type": spec.output_type,
            "content": content,
            "basis": [b.to_dict() for b in answer.basis],
        }
