"""Run the research engine with the real embedded model over a small real index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepcite.llm.base import ChatMessage
from deepcite.llm.embedded import EmbeddedModel
from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.engine import ResearchEngine
from deepcite.research.events import ResearchEvent
from deepcite.research.gather import Researcher
from deepcite.research.request import ResearchRequest
from deepcite.search.local_index import LocalIndex

# The short answer a client asks for through `response_format`.
ANSWER_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


async def research_events(
    index_path: Path,
    embedder: SentenceEncoder,
    pages: dict[str, tuple[str, str]],
    question: str,
    model: str = "base",
    json_schema: dict[str, Any] | None = None,
) -> list[ResearchEvent]:
    """Every event of one research run on `pages` (url -> (title, text))."""
    llm = EmbeddedModel()
    await llm.load()
    try:
        async with LocalIndex(index_path) as local:
            for url, (title, text) in pages.items():
                await local.upsert(url, title, text, "test")
            engine = ResearchEngine(Researcher([local], embedder, llm.count_tokens), llm)
            return [e async for e in engine.run(ResearchRequest(model, [ChatMessage("user", question)], json_schema))]
    finally:
        await llm.aclose()
