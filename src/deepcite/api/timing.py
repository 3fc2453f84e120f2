"""Where a chat request's time went, read off the engine's events as they pass.

Stages: `queue` (waiting for a slot), `search`, `read` (pages), `first_token`
(request to first content), `generate` (writing to the end) and `total`;
`overhead` is what none of the others explain (planning, ranking, our own code).
They go out as a `Server-Timing` header (non-streamed answers, whose headers
leave last) and as the `deepcite_stage_duration_seconds` histogram.
"""

from __future__ import annotations

import time

from deepcite.research.events import Progress, ResearchEvent, TextDelta

STAGES = ("queue", "search", "read", "first_token", "generate", "overhead", "total")


class StageClock:
    def __init__(self, started: float | None = None) -> None:
        self.started = started if started is not None else time.perf_counter()
        self._marks: dict[str, float] = {}  # first time each kind of event was seen
        self._ended: float | None = None

    def observe(self, event: ResearchEvent) -> None:
        now = time.perf_counter()
        if isinstance(event, Progress):
            self._marks.setdefault(f"{event.stage}-first", now)
            self._marks[f"{event.stage}-last"] = now
            if event.stage != "queue":
                self._marks.setdefault("admitted", now)
        elif isinstance(event, TextDelta) and event.text:
            self._marks.setdefault("admitted", now)
            self._marks.setdefault("text", now)

    def finish(self) -> None:
        if self._ended is None:
            self._ended = time.perf_counter()

    def durations(self) -> dict[str, float]:
        """Seconds per stage seen so far (stages that did not happen are absent)."""
        end = self._ended if self._ended is not None else time.perf_counter()
        marks = self._marks
        queued = "queue-first" in marks
        result: dict[str, float] = {"queue": marks.get("admitted", end) - self.started if queued else 0.0}
        write = marks.get("write-first")
        read = marks.get("read-first")
        search = marks.get("search-first")
        if search is not None:
            result["search"] = (read or write or end) - search
        if read is not None:
            result["read"] = (marks.get("read-last", read) if write is None else write) - read
        if "text" in marks:
            result["first_token"] = marks["text"] - self.started
        if write is not None:
            result["generate"] = end - write
        result["total"] = end - self.started
        explained = sum(result.get(s, 0.0) for s in ("queue", "search", "read", "generate"))
        result["overhead"] = max(0.0, result["total"] - explained)
        return result

    def header(self) -> str:
        """The `Server-Timing` value: `search;dur=12.3, ...` in milliseconds."""
        durations = self.durations()
        return ", ".join(f"{stage};dur={durations[stage] * 1000:.1f}" for stage in STAGES if stage in durations)
