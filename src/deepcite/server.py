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


def auth_configured(settings: Settings) -> bool:
    settings.home.mkdir(parents=True, exist_ok=True)
    return auth_required(settings, KeyStore(settings.state_path))


def create_app_from_env() -> FastAPI:
    settings = Settings.load(os.environ)
    settings.home.mkdir(parents=True, exist_ok=True)
    service = StartingEngine()
    app = create_app(settings, service, KeyStore(settings.state_path))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, warm=True) as runtime:
            service.engine = runtime.engine
            yield
            service.engine = None

    app.router.lifespan_context = lifespan
    return app
