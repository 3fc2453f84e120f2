"""The ASGI application of `deepcite serve`, built in each worker from the environment."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI

from deepcite.api.access_log import install_access_log_redaction
from deepcite.api.app import create_app
from deepcite.api.auth import auth_required
from deepcite.config import Settings
from deepcite.errors import ServiceUnavailableError
from deepcite.logs import configure_logging
from deepcite.mcp.server import build_mcp_server
from deepcite.research.events import ResearchEvent
from deepcite.research.profiles import PROFILES
from deepcite.research.request import ResearchRequest
from deepcite.research.search_service import ExtractOutcome, ExtractRequest, PageResult, WebSearchRequest
from deepcite.runtime import Runtime, open_runtime
from deepcite.store.interactions import Interactions, build_interactions
from deepcite.store.keys import KeyStore
from deepcite.tasks.runs import build_run_store
from deepcite.tasks.service import TaskService
from deepcite.tasks.webhooks import WebhookSecrets, WebhookSender


class StartedRuntime:
    """Serves research, search and extract from the runtime the app's lifespan opens.

    The app must exist before its lifespan runs, so it is given this handle instead.
    """

    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    def _ready(self) -> Runtime:
        if self.runtime is None:
            raise ServiceUnavailableError("deepcite is still starting; retry in a moment")
        return self.runtime

    @property
    def models(self) -> Sequence[str]:
        return list(PROFILES)

    async def run(self, request: ResearchRequest) -> AsyncIterator[ResearchEvent]:
        async for event in self._ready().engine.run(request):
            yield event

    async def search(self, request: WebSearchRequest) -> list[PageResult]:
        return await self._ready().search.search(request)

    async def extract(self, request: ExtractRequest) -> ExtractOutcome:
        return await self._ready().search.extract(request)


def build_task_service(
    settings: Settings, research: StartedRuntime, interactions: Interactions | None = None
) -> TaskService:
    store = build_run_store(settings)
    return TaskService(
        store,
        research.run,
        workers=settings.task_workers,
        queue_limit=settings.task_queue_limit,
        lease_seconds=settings.task_lease_seconds,
        webhooks=WebhookSender(settings, store, WebhookSecrets.from_settings(settings)),
        interactions=interactions,
    )


def auth_configured(settings: Settings) -> bool:
    settings.home.mkdir(parents=True, exist_ok=True)
    return auth_required(settings, KeyStore(settings.state_path))


def create_app_from_env() -> FastAPI:
    configure_logging()
    install_access_log_redaction()
    settings = Settings.load(os.environ)
    settings.home.mkdir(parents=True, exist_ok=True)
    started = StartedRuntime()
    interactions = build_interactions(settings)
    tasks = build_task_service(settings, started, interactions)
    mcp_server = build_mcp_server(started, tasks, over_http=True)
    app = create_app(
        settings,
        started,
        KeyStore(settings.state_path),
        search=started,
        tasks=tasks,
        mcp_server=mcp_server,
        interactions=interactions,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, warm=True) as runtime, app.state.mcp.lifespan():
            started.runtime = runtime
            # Runs queued before a restart (or left by a killed server) start again now.
            tasks.start()
            try:
                yield
            finally:
                await tasks.stop()
                await interactions.aclose()
                started.runtime = None

    app.router.lifespan_context = lifespan
    return app
