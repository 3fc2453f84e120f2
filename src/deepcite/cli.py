"""`deepcite serve | ask | index | keys | mcp`: thin wrappers over the async core."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from deepcite.config import SETTINGS, ConfigError, Settings
from deepcite.errors import DeepciteError

app = typer.Typer(help="deepcite: a self-hosted web research API.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()
errors = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(os.environ, overrides)
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Listen beyond loopback without API keys.")
    ] = False,
) -> None:
    """Run the OpenAI-compatible API server."""
    import uvicorn

    from deepcite.server import auth_configured

    settings = _settings(host=host, port=port, workers=workers, insecure_no_auth=insecure_no_auth or None)
    if not _is_loopback(settings.host) and not settings.insecure_no_auth and not auth_configured(settings):
        errors.print(
            f"[red]error:[/red] refusing to listen on {settings.host} without API keys: create one with "
            "`deepcite keys create`, set DEEPCITE_API_KEYS, or pass --insecure-no-auth"
        )
        raise typer.Exit(2)
    _seed_index(settings)
    # Workers are separate processes: they read the same settings from the environment.
    for setting in SETTINGS:
        os.environ[setting.env_var] = str(getattr(settings, setting.name))
    console.print(f"deepcite listening on http://{settings.host}:{settings.port}  (OpenAI base URL: "
                  f"http://{settings.host}:{settings.port}/v1)")
    uvicorn.run(
        "deepcite.server:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
    )


def _seed_index(settings: Settings) -> None:
    """Fill an empty index with the sample corpus once, before any worker starts."""
    if not settings.seed_sample_corpus:
        return
    from deepcite.search.indexer import seed_sample_corpus
    from deepcite.search.local_index import LocalIndex

    async def seed() -> None:
        settings.home.mkdir(parents=True, exist_ok=True)
        async with LocalIndex(settings.index_path) as local:
            report = await seed_sample_corpus(local)
            if report is not None:
                # A status line, on stderr: stdout may be carrying `ask --json` output.
                errors.print(f"seeded the local index with the sample corpus ({report.added} pages)")

    asyncio.run(seed())


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question to research.")],
    model: Annotated[str, typer.Option(help="speed, lite, base or core.")] = "speed",
    json_schema: Annotated[
        Path | None, typer.Option("--json-schema", help="File with a JSON Schema the answer must follow.")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Ask a running deepcite (http://host:8000) instead of researching here."),
    ] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="API key sent to the --base-url server.")] = None,
    raw_json: Annotated[bool, typer.Option("--json", help="Print the raw chat.completion JSON, nothing else.")] = False,
) -> None:
    """Research a question; stream the answer, then its sources. Exit status 0 answered, 1 error."""
    schema = None
    if json_schema is not None:
        try:
            schema = json.loads(json_schema.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            errors.print(f"[red]error:[/red] cannot read the JSON schema {json_schema}: {exc}")
            raise typer.Exit(2) from exc
    if base_url is not None:
        # A remote server does the research: nothing is loaded here.
        run = _ask_remote(base_url, api_key, model, question, schema, raw_json)
    else:
        settings = _settings()
        _seed_index(settings)
        run = _ask_here(settings, model, question, schema, raw_json)
    try:
        asyncio.run(run)
    except DeepciteError as exc:
        errors.print(Text("error: ", style="red") + Text(exc.message))
        raise typer.Exit(1) from exc


def _answer_console() -> Console:
    # Piped output is read whole (by people, scripts, tests): do not fold URLs at 80 columns.
    return console if console.is_terminal else Console(width=max(console.width, 200))


async def _ask_remote(base_url: str, api_key: str | None, model: str, question: str, schema: Any, raw_json: bool) -> None:
    from deepcite.answer_view import AnswerView
    from deepcite.remote import RemoteDeepcite, chat_body

    async with RemoteDeepcite(base_url, api_key) as remote:
        if raw_json:
            body = await remote.complete(chat_body(model, question, schema, stream=False))
            print(json.dumps(body, indent=2, ensure_ascii=False))
            return
        view = AnswerView(_answer_console(), errors, hold_text=schema is not None)
        await view.show(remote.stream(chat_body(model, question, schema, stream=True)))


async def _ask_here(settings: Settings, model: str, question: str, schema: Any, raw_json: bool) -> None:
    from deepcite.answer_view import AnswerView
    from deepcite.api.payloads import Completion
    from deepcite.api.schemas import model_not_found
    from deepcite.llm.base import ChatMessage
    from deepcite.research.events import Basis, Done, TextDelta
    from deepcite.research.request import ResearchRequest
    from deepcite.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        if model not in runtime.engine.models:
            raise model_not_found(model)
        request = ResearchRequest(model, [ChatMessage("user", question)], schema)
        if not raw_json:
            view = AnswerView(_answer_console(), errors, hold_text=schema is not None)
            await view.show(runtime.engine.run(request))
            return
        texts: list[str] = []
        basis: Basis | None = None
        done: Done | None = None
        async for event in runtime.engine.run(request):
            if isinstance(event, TextDelta):
                texts.append(event.text)
            elif isinstance(event, Basis):
                basis = event
            elif isinstance(event, Done):
                done = event
        completion = Completion(model=model)
        if basis is None:
            body = completion.body("".join(texts), [], [], done)
        else:
            body = completion.body(basis.content, basis.basis, basis.annotations, done)
        print(json.dumps(body, indent=2, ensure_ascii=False))


@app.command()
def mcp() -> None:
    """Serve deepcite's tools to an MCP client (Claude Desktop, Cursor, ...) over stdin/stdout."""
    from deepcite.mcp.stdio import serve_stdio

    settings = _settings()
    _seed_index(settings)  # its status line goes to stderr: stdout carries the protocol
    try:
        asyncio.run(serve_stdio(settings))
    except DeepciteError as exc:
        errors.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@app.command()
def index(sources: Annotated[list[str], typer.Argument(help="Files, folders, URLs, sitemaps or .jsonl.")]) -> None:
    """Add sources to the local search index (unchanged sources are skipped)."""
    from deepcite.search.indexer import index_sources
    from deepcite.search.local_index import LocalIndex

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)

    async def run() -> Any:
        local = LocalIndex(settings.index_path)
        try:
            with Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=errors,
            ) as bar:
                task = bar.add_task("indexing", total=None)

                def on_progress(progress: Any) -> None:
                    bar.update(task, completed=progress.done, total=progress.total,
                               description=f"indexing {progress.current[-40:]}")

                return await index_sources(local, sources, on_progress=on_progress)
        finally:
            local.close()

    report = asyncio.run(run())
    console.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, failed {report.failed}"
    )
    for failure in report.failures:
        errors.print(f"[yellow]failed:[/yellow] {failure}")
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


@keys_app.command("create")
def keys_create(name: Annotated[str, typer.Option(help="A label for the key.")] = "default") -> None:
    """Create an API key; it is shown once and stored hashed."""
    from deepcite.store.keys import KeyStore

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    key_id, key = KeyStore(settings.state_path).create(name)
    console.print(f"id: {key_id}\nkey: {key}\n[dim]Store it now: only its hash is kept.[/dim]")


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (ids and names, never the keys)."""
    from deepcite.store.keys import KeyStore

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    table = Table("id", "name", "created", "revoked")
    for key in KeyStore(settings.state_path).list():
        table.add_row(key.id, key.name, str(key.created), "yes" if key.revoked else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The id shown by `keys list`.")]) -> None:
    """Revoke an API key."""
    from deepcite.store.keys import KeyStore

    settings = _settings()
    if not KeyStore(settings.state_path).revoke(key_id):
        errors.print(f"[red]error:[/red] no active key with id {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
