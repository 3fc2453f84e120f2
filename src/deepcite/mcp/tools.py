"""deepcite's services as MCP tools: web search, page reading, cited research and research tasks.

Each tool answers twice: Markdown for the model to read (numbered sources, verbatim
excerpts) and structured content that follows the tool's output schema.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, Protocol

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from deepcite.errors import DeepciteError
from deepcite.llm.base import ChatMessage
from deepcite.mcp.markdown import answer_markdown, fetch_markdown, numbered_sources, search_markdown
from deepcite.research.answer import collect_answer
from deepcite.research.events import ResearchEvent
from deepcite.research.request import ResearchRequest
from deepcite.research.search_service import ExtractOutcome, ExtractRequest, PageResult, WebSearchRequest
from deepcite.search.policy import SourcePolicy
from deepcite.tasks.service import RunStillActiveError, TaskService
from deepcite.tasks.spec import AUTO_SCHEMA, RunSpec
from deepcite.tasks.store import TaskRun


class Services(Protocol):
    """What the tools call: the same search, extract and research the HTTP API serves."""

    async def search(self, request: WebSearchRequest) -> list[PageResult]: ...

    async def extract(self, request: ExtractRequest) -> ExtractOutcome: ...

    def run(self, request: ResearchRequest) -> AsyncIterator[ResearchEvent]: ...


# Who calls: over HTTP the API key's identity, on stdio the local user.
CallerOf = Callable[[Context[Any, Any]], str]


class SearchResultOut(BaseModel):
    url: str
    title: str | None
    publish_date: str | None
    excerpts: list[str]


class SearchOutput(BaseModel):
    results: list[SearchResultOut]


class PageOut(BaseModel):
    url: str
    title: str | None
    excerpts: list[str] | None
    full_content: str | None


class FetchFailureOut(BaseModel):
    url: str
    error_type: str
    message: str


class FetchOutput(BaseModel):
    results: list[PageOut]
    errors: list[FetchFailureOut]


class SourceOut(BaseModel):
    n: int
    url: str
    title: str | None
    excerpts: list[str]


class ResearchOutput(BaseModel):
    content: str = Field(description="The answer; [n] markers name the sources.")
    sources: list[SourceOut]
    basis: list[dict[str, Any]] = Field(description="Parallel's basis: citations, reasoning, confidence per field.")


class TaskOutput(BaseModel):
    run_id: str
    status: str
    error: dict[str, Any] | None = None
    output: dict[str, Any] | None = Field(default=None, description="{type, content, basis} once completed.")


def _result(markdown: str, structured: BaseModel) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=markdown)], structured_content=structured.model_dump(mode="json")
    )


def _policy(include_domains: list[str] | None, exclude_domains: list[str] | None) -> SourcePolicy:
    return SourcePolicy.of(include_domains or (), exclude_domains or ())


def _task_result(run: TaskRun) -> CallToolResult:
    output = run.result if run.status == "completed" else None
    lines = [f"Task {run.run_id} is {run.status}."]
    if run.error:
        lines.append(f"Reason: {run.error.get('message')}")
    if run.is_active:
        lines.append("Call get_research_task again later (wait_seconds up to 60) for the result.")
    if output is not None:
        content = output["content"]
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, indent=2)
        sources = numbered_sources(text, output["basis"], [])
        confidence = output["basis"][0]["confidence"] if output["basis"] else None
        lines = [answer_markdown(text, sources, confidence)]
    return _result("\n".join(lines), TaskOutput(run_id=run.run_id, status=run.status, error=run.error, output=output))


Domains = Annotated[list[str] | None, Field(description="Only pages of these domains (and their subdomains).")]
ExcludedDomains = Annotated[list[str] | None, Field(description="Never pages of these domains.")]


def register_tools(server: MCPServer, services: Services, tasks: TaskService | None, caller_of: CallerOf) -> None:
    """Add the five tools to `server`; task tools only when `tasks` is given."""

    async def web_search(
        objective: Annotated[str, Field(description="What you want to find out, in plain words.")],
        search_queries: Annotated[list[str] | None, Field(description="Optional keyword queries to run too.")] = None,
        max_results: Annotated[int, Field(ge=1, le=20, description="How many pages to return.")] = 5,
        include_domains: Domains = None,
        exclude_domains: ExcludedDomains = None,
    ) -> Annotated[CallToolResult, SearchOutput]:
        try:
            results = await services.search(
                WebSearchRequest(
                    objective=objective,
                    search_queries=tuple(q for q in search_queries or () if q.strip()),
                    max_results=max_results,
                    source_policy=_policy(include_domains, exclude_domains),
                )
            )
        except DeepciteError as exc:
            raise ToolError(exc.message) from exc
        out = SearchOutput(
            results=[SearchResultOut(url=r.url, title=r.title or None, publish_date=r.publish_date,
                                     excerpts=r.excerpts or []) for r in results]
        )
        return _result(search_markdown(results), out)

    async def web_fetch(
        urls: Annotated[list[str], Field(min_length=1, max_length=10, description="The pages to read.")],
        objective: Annotated[str | None, Field(description="What you look for: the excerpts are chosen for it.")] = None,
        full_content: Annotated[bool, Field(description="Also return each page's whole text.")] = False,
    ) -> Annotated[CallToolResult, FetchOutput]:
        try:
            outcome = await services.extract(
                ExtractRequest(urls=tuple(urls), objective=objective, excerpts=True, full_content=full_content)
            )
        except DeepciteError as exc:
            raise ToolError(exc.message) from exc
        out = FetchOutput(
            results=[PageOut(url=r.url, title=r.title or None, excerpts=r.excerpts, full_content=r.full_content)
                     for r in outcome.results],
            errors=[FetchFailureOut(url=f.url, error_type=f.error_type, message=f.message) for f in outcome.errors],
        )
        return _result(fetch_markdown(outcome), out)

    async def research(
        question: Annotated[str, Field(description="The question, self-contained.")],
        processor: Annotated[
            Literal["lite", "base"], Field(description="lite: a few seconds; base: more pages, cross-checked.")
        ] = "lite",
    ) -> Annotated[CallToolResult, ResearchOutput]:
        request = ResearchRequest(model=processor, messages=[ChatMessage("user", question)])
        try:
            answer = await collect_answer(services.run(request))
        except DeepciteError as exc:
            raise ToolError(exc.message) from exc
        basis = [b.to_dict() for b in answer.basis]
        sources = numbered_sources(answer.content, basis, [a.to_dict() for a in answer.annotations])
        confidence = basis[0]["confidence"] if basis else None
        out = ResearchOutput(content=answer.content, sources=[SourceOut(**s) for s in sources], basis=basis)
        return _result(answer_markdown(answer.content, sources, confidence), out)

    server.add_tool(
        web_search,
        description=(
            "Search the web (or this server's own index) and get the best pages for an objective, each with "
            "verbatim excerpts. Use it to find sources; use `research` when you want an answer."
        ),
    )
    server.add_tool(
        web_fetch,
        description=(
            "Read web pages you already have URLs for and get their most relevant excerpts for an objective "
            "(or their full text). Private and local addresses are refused."
        ),
    )
    server.add_tool(
        research,
        description=(
            "Answer a factual question by researching it: searches, reads pages and writes a short answer whose "
            "every sentence is checked against the sources, with numbered citations and verbatim excerpts. "
            "Takes seconds. For multi-step questions that need several rounds, use `create_research_task`."
        ),
    )
    if tasks is None:
        return

    async def create_research_task(
        question: Annotated[str, Field(description="The research question, self-contained.")],
        ctx: Context[Any, Any],
        processor: Annotated[
            Literal["lite", "base", "core"], Field(description="core: several rounds following leads (multi-hop).")
        ] = "core",
        output: Annotated[
            Literal["text", "auto"], Field(description="text: a cited answer; auto: JSON fields with a basis each.")
        ] = "text",
    ) -> Annotated[CallToolResult, TaskOutput]:
        spec = RunSpec(
            processor=processor,
            question=question.strip(),
            output_type="json" if output == "auto" else "text",
            json_schema=AUTO_SCHEMA if output == "auto" else None,
        )
        if not spec.question:
            raise ToolError("the question is empty")
        try:
            run = await tasks.submit(caller_of(ctx), spec)
        except DeepciteError as exc:
            raise ToolError(exc.message) from exc
        return _task_result(run)

    async def get_research_task(
        run_id: Annotated[str, Field(description="The run_id create_research_task returned.")],
        ctx: Context[Any, Any],
        wait_seconds: Annotated[float, Field(ge=0, le=60, description="Wait this long for it to finish.")] = 20,
    ) -> Annotated[CallToolResult, TaskOutput]:
        owner = caller_of(ctx)
        try:
            run = await tasks.get(owner, run_id)
            if run.is_active and wait_seconds > 0:
                try:
                    run = await tasks.wait(owner, run_id, wait_seconds)
                except RunStillActiveError:
                    run = await tasks.get(owner, run_id)
        except DeepciteError as exc:
            raise ToolError(exc.message) from exc
        return _task_result(run)

    server.add_tool(
        create_research_task,
        description=(
            "Start a long research task (a minute or less) that runs in the background and survives restarts; "
            "returns a run_id at once. Collect the cited result with `get_research_task`."
        ),
    )
    server.add_tool(
        get_research_task,
        description="The status of a research task, and once it is completed its cited answer with numbered sources.",
    )
