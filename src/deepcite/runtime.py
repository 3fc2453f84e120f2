"""Assemble deepcite from its settings: index, providers, model, fetcher, engine.

The one place that knows every concrete class; everything else takes protocols.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from deepcite.config import Settings
from deepcite.fetch.fetcher import Fetcher
from deepcite.llm.base import ChatModel
from deepcite.llm.encoder import SentenceEncoder
from deepcite.llm.registry import build_chat_model
from deepcite.research.engine import ResearchEngine
from deepcite.research.gather import Researcher
from deepcite.research.search_service import SearchService
from deepcite.search.local_index import LocalIndex
from deepcite.search.registry import build_providers
from deepcite.store.cache import build_cache


@dataclasses.dataclass
class Runtime:
    settings: Settings
    index: LocalIndex
    llm: ChatModel
    fetcher: Fetcher
    engine: ResearchEngine
    search: SearchService


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, warm: bool = False) -> AsyncIterator[Runtime]:
    settings.home.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        index = LocalIndex(settings.index_path)
        stack.callback(index.close)
        cache = build_cache(settings)
        stack.push_async_callback(cache.aclose)
        fetcher = Fetcher(settings, cache)
        stack.push_async_callback(fetcher.aclose)
        llm = build_chat_model(settings)
        _close_later(stack, llm)
        embedder = SentenceEncoder(threads=settings.llm_threads)
        providers = build_providers(settings, index)
        for provider in providers:
            if provider is not index:
                _close_later(stack, provider)
        researcher = Researcher(providers=providers, embedder=embedder, count_tokens=llm.count_tokens, reader=fetcher)
        engine = ResearchEngine(researcher, llm)
        search = SearchService(providers, embedder, index=index, reader=fetcher)
        if warm:
            await embedder.warm_up()
            warm_up = getattr(llm, "warm_up", None)
            if warm_up is not None:
                await warm_up(engine.warm_up_prompt())
        yield Runtime(settings, index, llm, fetcher, engine, search)


def _close_later(stack: contextlib.AsyncExitStack, resource: object) -> None:
    aclose = getattr(resource, "aclose", None)
    if aclose is not None:
        stack.push_async_callback(aclose)
