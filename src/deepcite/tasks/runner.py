"""Run one task through the research engine and shape its result as Parallel's `output`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from deepcite.research.answer import collect_answer
from deepcite.research.events import Progress, ResearchEvent
from deepcite.research.request import ResearchRequest
from deepcite.store.interactions import Interactions, answered_turns
from deepcite.tasks.runs import RunStore
from deepcite.tasks.spec import RunSpec
from deepcite.tasks.store import TaskRun

# The engine's entry point: `ResearchEngine.run`, or the server's handle on it.
RunResearch = Callable[[ResearchRequest], AsyncIterator[ResearchEvent]]


class TaskRunner:
    def __init__(self, store: RunStore, run_research: RunResearch, interactions: Interactions | None = None) -> None:
        self._store = store
        self._run_research = run_research
        self._interactions = interactions

    async def run(self, run: TaskRun) -> dict[str, Any]:
        """The run's `output` ({type, content, basis}); its progress is recorded as events on the way."""
        spec = RunSpec.from_json(run.spec)

        async def record(event: ResearchEvent) -> None:
            if isinstance(event, Progress):
                data = {"stage": event.stage, "message": event.message}
                await self._store.add_event(run.run_id, f"task_run.progress_msg.{event.stage}", data)

        request = spec.research_request()
        answer = await collect_answer(self._run_research(request), record)
        if self._interactions is not None:
            # Kept for a later run or chat that continues this interaction.
            await self._interactions.save(run.interaction_id, run.owner, answered_turns(request.messages, answer.content))
        content: Any = json.loads(answer.content) if spec.output_type == "json" else answer.content
        return {
            "type": spec.output_type,
            "content": content,
            "basis": [b.to_dict() for b in answer.basis],
        }
