"""The ASGI application of `deepcite serve`, built in each worker from the environment."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI

from deepcite.api.app import create_app
from deepcite.api.auth import auth_required
from deepcite.config import Settings
from deepcite.errors import ServiceUnavailableError
from deepcite.research.engine import ResearchEngine
from deepcite.research.events import ResearchEvent
from deepcite.research.profiles import PROFILES
from deepcite.research.request import ResearchRequest
from deepcite.research.search_service import ExtractOutcome, ExtractRequest, PageResult, SearchService, WebSearchRequest
from deepcite.runtime import open_runtime
from deepcite.store.keys import KeyStore


class StartingEngine:
    """Serves research once the runtime has opened; the app exists before it does."""

    def __init__(self) -> None:
        self.engine: ResearchEngine | None = None

    @property
    def models(self) -> Sequence[str]:
        return list(PROFILES)

    async def run(self, request: ResearchRequest) -> AsyncIterator[ResearchEvent]:
        if self.engine is None:
            raise ServiceUnavailableError("deepcite is still starting; retry in a moment")
        async for event in self.engine.run(request):
            yield event


class StartingSearch:
    """Serves search and extract once the runtime has opened, like `StartingEngine`."""

    def __init__(self) -> None:
        self.service: SearchService | None = None

    def _ready(self) -> SearchService:
        if self.service is None:
            raise ServiceUnavailableError("deepcite is still starting; retry in a moment")
        return self.service

    async def search(self, request: WebSearchRequest) -> list[PageResult]:
        return await self._ready().search(request)

    async def extract(self, request: ExtractRequest) -> ExtractOutcome:
        return await self._ready().extract(request)


def auth_configured(settings: Settings) -> bool:
    settings.home.mkdir(parents=True, exist_ok=True)
    return auth_required(settings, KeyStore(settings.state_path))


def create_app_from_env() -> FastAPI:
    settings = Settings.load(os.environ)
    settings.home.mkdir(parents=True, exist_ok=True)
    service = StartingEngine()
    search = StartingSearch()
    app = create_app(settings, service, KeyStore(settings.state_path), search=search)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, warm=True) as runtime:
            service.engine = runtime.engine
            search.service = runtime.search
            yield
            service.engine = None
            search.service = None

    app.router.lifespan_context = lifespan
    return app
