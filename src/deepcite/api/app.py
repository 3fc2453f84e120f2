"""The HTTP edge, assembled explicitly from its parts: `create_app(settings, engine, key_store)`.

Routes: chat completions (also at `/chat/completions` and `/v1beta/chat/completions`),
models, Parallel-style search, extract and task runs, the MCP endpoint, health, Prometheus metrics and the
playground page. Chat, models, search, extract and task routes are guarded: an API key
when any is configured, then the rate limit.
"""

# No `from __future__ import annotations`: FastAPI must see the local `GuardedCaller` alias.

import dataclasses
import time
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from mcp.server.mcpserver import MCPServer

from deepcite.api.admission import Admission
from deepcite.api.auth import Authenticator, Caller
from deepcite.api.body import read_json_body
from deepcite.api.chat import ChatCompletions
from deepcite.api.errors import install_error_handlers
from deepcite.api.metrics import ApiMetrics, MetricsMiddleware
from deepcite.api.openapi import install_openapi
from deepcite.api.ratelimit import STATE_KEY, FailedAuthLimiter, RateLimitHeadersMiddleware, RequestRateLimiter
from deepcite.api.schemas import ChatCompletionRequest, model_not_found, parse_chat_request, to_research_request
from deepcite.api.search_extract import ExtractBody, SearchBody, SearchExtract, search_extract_router
from deepcite.api.service import ResearchService
from deepcite.api.tasks import TaskRunBody, tasks_router
from deepcite.config import Settings
from deepcite.errors import DeepciteError
from deepcite.mcp.server import MCP_PATH, McpEndpoint
from deepcite.store.interactions import Interactions, answered_turns, earlier_turns
from deepcite.store.keys import KeyStore
from deepcite.tasks.service import TaskService

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions", "/v1beta/chat/completions")


# The page runs only its own script and style files: an answer or page text that slipped
# into the DOM as markup could still not run (defence in depth; the script renders text only).
PLAYGROUND_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def playground_html() -> str:
    return resources.files("deepcite.api").joinpath("static/index.html").read_text(encoding="utf-8")


def static_files() -> StaticFiles:
    """The playground's script, style and icon, served from the installed package."""
    return StaticFiles(directory=str(resources.files("deepcite.api").joinpath("static")))


def _model_card(model: str, created: int) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": created, "owned_by": "deepcite"}


def create_app(
    settings: Settings,
    engine: ResearchService,
    key_store: KeyStore,
    *,
    heartbeat_seconds: float = 5.0,
    search: SearchExtract | None = None,
    tasks: TaskService | None = None,
    mcp_server: MCPServer | None = None,
    interactions: Interactions | None = None,
) -> FastAPI:
    metrics = ApiMetrics()
    authenticator = Authenticator(settings, key_store)
    limiter = RequestRateLimiter.from_settings(settings)
    auth_failures = FailedAuthLimiter.from_settings(settings)
    admission = Admission(
        active=settings.queue_active,
        waiting=settings.queue_waiting,
        deadline=settings.request_timeout,
        max_wait=settings.queue_max_wait,
    )
    chat = ChatCompletions(
        engine, metrics, heartbeat_seconds=heartbeat_seconds, admission=admission, timeout=settings.request_timeout
    )
    page = playground_html()
    started = int(time.time())

    async def guard(request: Request) -> Caller:
        address = request.client.host if request.client else "unknown"
        await auth_failures.check(address)
        try:
            caller = await authenticator.authenticate(request)
        except DeepciteError as exc:
            if exc.status_code == 401:
                await auth_failures.failed(address)
            raise
        status = await limiter.hit(caller.identity)
        setattr(request.state, STATE_KEY, status)  # RateLimitHeadersMiddleware puts it on the response
        if not status.allowed:
            raise status.refusal()
        return caller

    GuardedCaller = Annotated[Caller, Depends(guard)]
    guarded = APIRouter()

    async def chat_completions(request: Request, caller: GuardedCaller) -> Response:
        parsed = parse_chat_request(await read_json_body(request, settings.max_body_bytes))
        research = to_research_request(parsed, engine.models, max_question_tokens=settings.max_question_tokens)
        if interactions is None:
            return await chat.respond(research, stream=bool(parsed.stream), receive=request.receive)
        earlier = await earlier_turns(interactions, parsed.previous_interaction_id, caller.identity)
        if earlier:
            research = dataclasses.replace(research, messages=[*earlier, *research.messages])
        asked = research.messages

        async def remember(interaction_id: str, content: str) -> None:
            await interactions.save(interaction_id, caller.identity, answered_turns(asked, content))

        return await chat.respond(research, stream=bool(parsed.stream), receive=request.receive, remember=remember)

    for path in CHAT_PATHS:
        guarded.add_api_route(
            path,
            chat_completions,
            methods=["POST"],
            include_in_schema=path == CHAT_PATHS[0],
            summary="Create a researched chat completion",
        )

    @guarded.get("/v1/models")
    async def list_models(caller: GuardedCaller) -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(m, started) for m in engine.models]}

    @guarded.get("/v1/models/{model_id}")
    async def retrieve_model(model_id: str, caller: GuardedCaller) -> dict[str, Any]:
        if model_id not in engine.models:
            raise model_not_found(model_id)
        return _model_card(model_id, started)

    app = FastAPI(title="deepcite", docs_url=None, redoc_url=None)
    app.include_router(guarded)
    app.include_router(search_extract_router(search, max_body_bytes=settings.max_body_bytes, guard=guard))
    app.include_router(
        tasks_router(tasks, max_body_bytes=settings.max_body_bytes, guard=guard, heartbeat_seconds=heartbeat_seconds)
    )

    if mcp_server is not None:
        # The lifespan of whoever serves the app runs `app.state.mcp.lifespan()`.
        app.state.mcp = McpEndpoint(mcp_server, guard, host=settings.host)
        app.add_route(MCP_PATH, app.state.mcp, methods=["GET", "POST", "DELETE"], include_in_schema=False)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": list(engine.models)}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/", include_in_schema=False)
    async def playground() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": PLAYGROUND_CSP})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        # Clients that ask for the conventional icon path get the page's SVG icon.
        return RedirectResponse("/static/favicon.svg", status_code=301)

    app.mount("/static", static_files(), name="static")

    install_openapi(app, {
        CHAT_PATHS[0]: ChatCompletionRequest, "/v1/search": SearchBody, "/v1/extract": ExtractBody,
        "/v1/tasks/runs": TaskRunBody,
    })
    # Innermost first: error rendering, then rate-limit headers, then metrics outermost.
    install_error_handlers(app)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    app.state.rate_limiter = limiter
    app.state.admission = admission
    return app
