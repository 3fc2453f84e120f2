"""The MCP tool server: over stdio (`deepcite mcp`) and as streamable HTTP at `/mcp` of the API server.

Over HTTP the endpoint sits behind the API's own guard (API key, then the per-key rate
limit) and is stateless, answering JSON: any worker of `deepcite serve --workers N`
can take any request. The caller the guard found is left in the ASGI scope, where the
task tools read whose runs they create and read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from deepcite import __version__
from deepcite.api.auth import Caller
from deepcite.mcp.tools import Services, register_tools
from deepcite.tasks.service import TaskService

MCP_PATH = "/mcp"
CALLER_SCOPE_KEY = "deepcite.caller"
STDIO_CALLER = "local:mcp"
INSTRUCTIONS = (
    "deepcite researches the web (or a private index) and cites what it says: every excerpt is verbatim "
    "from its page. web_search finds pages, web_fetch reads known URLs, research answers a question in "
    "seconds with numbered sources, create_research_task/get_research_task run deeper multi-hop research."
)


def build_mcp_server(services: Services, tasks: TaskService | None, *, over_http: bool) -> MCPServer:
    server = MCPServer("deepcite", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    register_tools(server, services, tasks, http_caller if over_http else lambda _: STDIO_CALLER)
    return server


def http_caller(ctx: Context[Any, Any]) -> str:
    request = ctx.request_context.request
    caller = request.scope.get(CALLER_SCOPE_KEY) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):  # pragma: no cover - the guard always runs first
        raise PermissionError("no authenticated caller")
    return caller.identity


class McpEndpoint:
    """`/mcp`: the guard, then the SDK's streamable HTTP app. `lifespan()` must be running."""

    def __init__(self, server: MCPServer, guard: Callable[[Request], Awaitable[Caller]], *, host: str) -> None:
        # The SDK guards loopback servers against DNS rebinding by itself (host given here).
        self._app = server.streamable_http_app(
            streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
        )
        self._server = server
        self._guard = guard

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with self._server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = await self._guard(Request(scope, receive))
        scope[CALLER_SCOPE_KEY] = caller
        await self._app(scope, receive, send)
