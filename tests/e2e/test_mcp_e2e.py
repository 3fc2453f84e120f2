"""deepcite as an MCP tool server, driven by the official `mcp` SDK client over stdio and HTTP."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from bench.harness import deepcite_env
from e2e_server import API_KEY, RunningServer
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from test_chat_e2e import SUPER_BOWL

TOOLS = {"web_search", "web_fetch", "research", "create_research_task", "get_research_task"}
QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"

Connect = Callable[[], AbstractAsyncContextManager[Client]]


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def _http_client(server: RunningServer) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {API_KEY}"}, timeout=120)
    return Client(streamable_http_client(server.base_url + "/mcp", http_client=http), read_timeout_seconds=180)


def _stdio_client(home: Path) -> Client:
    params = StdioServerParameters(command=sys.executable, args=["-m", "deepcite", "mcp"], env=deepcite_env(home))
    return Client(params, read_timeout_seconds=180)


async def _check_tools(client: Client, corpus_pages: dict[str, str]) -> None:
    listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.output_schema is not None, tool.name

    found = await client.call_tool("web_search", {"objective": "Super Bowl 50 AFC champion", "max_results": 3})
    assert not found.is_error, _text(found)
    results = (found.structured_content or {})["results"]
    assert results and SUPER_BOWL in {r["url"] for r in results}
    for result in results:
        for excerpt in result["excerpts"]:
            assert excerpt in corpus_pages[result["url"]]
    assert "[1] " in _text(found)

    answered = await client.call_tool("research", {"question": QUESTION})
    assert not answered.is_error, _text(answered)
    structured = answered.structured_content or {}
    assert structured["content"] and structured["basis"]
    sources = structured["sources"]
    assert SUPER_BOWL in {s["url"] for s in sources}
    for source in sources:
        for excerpt in source["excerpts"]:
            assert excerpt in corpus_pages[source["url"]]
    markdown = _text(answered)
    assert "**Sources**" in markdown and f"[{sources[0]['n']}] " in markdown


async def test_tools_over_streamable_http(server: RunningServer, corpus_pages: dict[str, str]) -> None:
    async with _http_client(server) as client:
        await _check_tools(client, corpus_pages)
        fetched = await client.call_tool("web_fetch", {"urls": [SUPER_BOWL], "objective": "AFC champion"})
        assert not fetched.is_error, _text(fetched)
        page = (fetched.structured_content or {})["results"][0]
        assert page["url"] == SUPER_BOWL and page["excerpts"]

        created = await client.call_tool("create_research_task", {"question": QUESTION, "processor": "core"})
        run_id = (created.structured_content or {})["run_id"]
    # A task made over MCP belongs to the key that made it, on the Task API too.
    async with httpx.AsyncClient(base_url=server.base_url, headers={"authorization": f"Bearer {API_KEY}"}) as rest:
        assert (await rest.get(f"/v1/tasks/runs/{run_id}")).json()["run_id"] == run_id
        cancelled = await rest.post(f"/v1/tasks/runs/{run_id}/cancel")
    assert cancelled.json()["status"] in {"cancelled", "cancelling"}


def test_the_http_endpoint_has_the_api_guard(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    refused = httpx.post(server.base_url + "/mcp", json=body, headers={"authorization": "Bearer wrong"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


async def test_tools_over_stdio_with_a_research_task(tmp_path: Path, corpus_pages: dict[str, str]) -> None:
    async with _stdio_client(tmp_path) as client:
        await _check_tools(client, corpus_pages)
        # `lite` keeps the test short; the processors themselves are the task tests' business.
        created = await client.call_tool("create_research_task", {"question": QUESTION, "processor": "lite"})
        assert not created.is_error, _text(created)
        run_id = (created.structured_content or {})["run_id"]
        status: dict[str, Any] = {}
        for _ in range(10):
            got = await client.call_tool("get_research_task", {"run_id": run_id, "wait_seconds": 30})
            status = got.structured_content or {}
            if status["status"] not in {"queued", "running"}:
                break
        assert status["status"] == "completed", status
        assert SUPER_BOWL in {c["url"] for b in status["output"]["basis"] for c in b["citations"]}
        assert "**Sources**" in _text(got)


@pytest.fixture(autouse=True)
def _quiet_mcp_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
