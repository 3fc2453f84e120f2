"""`deepcite mcp`: the tools over stdin/stdout, on a runtime of this process (no server needed).

Research tasks are stored in the same `tasks.sqlite3` as the server's and run by a
worker pool of this process while it lives; what it leaves unfinished, the next
process to open the store (this one again, or a server) takes up.
"""

from __future__ import annotations

import logging

from deepcite.config import Settings
from deepcite.logs import configure_logging
from deepcite.mcp.server import build_mcp_server
from deepcite.runtime import open_runtime
from deepcite.server import StartedRuntime, build_task_service


async def serve_stdio(settings: Settings) -> None:
    configure_logging(logging.WARNING)  # stderr is the agent's console; stdout is the protocol
    started = StartedRuntime()
    tasks = build_task_service(settings, started)
    server = build_mcp_server(started, tasks, over_http=False)
    async with open_runtime(settings, warm=False) as runtime:
        started.runtime = runtime
        tasks.start()
        try:
            await server.run_stdio_async()
        finally:
            await tasks.stop()
            started.runtime = None
