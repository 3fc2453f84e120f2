"""What the HTTP edge needs from the research engine, and nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from deepcite.research.events import ResearchEvent
from deepcite.research.request import ResearchRequest


class ResearchService(Protocol):
    # The research profiles served as OpenAI "models" (`speed`, `lite`, `base`, `core`).
    @property
    def models(self) -> Sequence[str]: ...

    def run(self, request: ResearchRequest) -> AsyncIterator[ResearchEvent]:
        """Stream `Progress`* `TextDelta`* `Basis` `Done`; failures are raised as `DeepciteError`s."""
        ...
