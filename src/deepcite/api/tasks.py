"""Parallel's Task API: `POST /v1/tasks/runs`, then read, wait for, follow or cancel the run.

Requests are read leniently (unknown fields are ignored) and turned into a `RunSpec`;
the runs themselves live in `deepcite.tasks`. Every route is behind the same guard as
chat (API key, then the per-key rate limit), and a caller only ever sees its own runs.
"""

# No `from __future__ import annotations`: FastAPI must see the local `GuardedCaller` alias.

import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deepcite.api.auth import Caller
from deepcite.api.body import read_json_body
from deepcite.api.errors import error_body, validation_error
from deepcite.api.search_extract import SourcePolicyBody
from deepcite.api.sse import ClosingStreamingResponse, Heartbeat, TickingSource, sse_comment
from deepcite.errors import DeepciteError, InvalidRequestError, ServiceUnavailableError
from deepcite.llm.structured import check_schema
from deepcite.search.policy import SourcePolicy
from deepcite.store.interactions import earlier_turns
from deepcite.tasks.service import TaskService
from deepcite.tasks.spec import AUTO_SCHEMA, PROCESSORS, RunSpec, input_text
from deepcite.tasks.store import TaskEvent, iso
from deepcite.tasks.webhooks import STATUS_EVENT

MAX_RESULT_TIMEOUT = 600.0
DEFAULT_RESULT_TIMEOUT = 600.0
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
PREFIXES = ("/v1", "/v1beta")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextSchemaBody(_Lenient):
    type: Literal["text"]
    description: str | None = None


class JsonSchemaBody(_Lenient):
    type: Literal["json"]
    json_schema: dict[str, Any]


class AutoSchemaBody(_Lenient):
    type: Literal["auto"]


OutputSchema = Annotated[TextSchemaBody | JsonSchemaBody | AutoSchemaBody, Field(discriminator="type")]


class TaskSpecBody(_Lenient):
    # A bare string is a text output's description, as Parallel allows.
    output_schema: OutputSchema | str | None = None


class WebhookBody(_Lenient):
    url: str = Field(min_length=1, pattern=r"(?i)^https?://")
    event_types: list[str] = Field(default_factory=lambda: [STATUS_EVENT])


class TaskRunBody(_Lenient):
    processor: str = "base"
    input: str | dict[str, Any]
    task_spec: TaskSpecBody | None = None
    source_policy: SourcePolicyBody | None = None
    metadata: dict[str, str | int | float | bool] | None = None
    webhook: WebhookBody | None = None
    previous_interaction_id: str | None = None


def parse_task_run(data: Any) -> TaskRunBody:
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    try:
        return TaskRunBody.model_validate(data)
    except ValidationError as exc:
        tags = {"TextSchemaBody", "JsonSchemaBody", "AutoSchemaBody", "str", "text", "json", "auto"}
        errors = [{**e, "loc": tuple(p for p in e["loc"] if p not in tags)} for e in exc.errors()]
        raise validation_error(errors) from exc


def to_run_spec(body: TaskRunBody) -> RunSpec:
    if body.processor not in PROCESSORS:
        raise InvalidRequestError(
            f"Unknown processor {body.processor!r}; use one of {', '.join(PROCESSORS)}.", param="processor"
        )
    question = input_text(body.input)
    if not question:
        raise InvalidRequestError("'input' must not be empty.", param="input")
    schema = body.task_spec.output_schema if body.task_spec else None
    output_type: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = None
    instructions = ""
    if isinstance(schema, str):
        instructions = schema.strip()
    elif isinstance(schema, TextSchemaBody):
        instructions = (schema.description or "").strip()
    elif isinstance(schema, JsonSchemaBody):
        try:
            check_schema(schema.json_schema)
        except InvalidRequestError as exc:
            raise InvalidRequestError(exc.message, param="task_spec.output_schema.json_schema") from exc
        output_type, json_schema = "json", schema.json_schema
    elif isinstance(schema, AutoSchemaBody):
        output_type, json_schema = "json", AUTO_SCHEMA
    policy = body.source_policy or SourcePolicyBody()
    return RunSpec(
        processor=body.processor,
        question=question,
        output_type=output_type,
        json_schema=json_schema,
        instructions=instructions,
        source_policy=SourcePolicy.of(policy.include_domains or (), policy.exclude_domains or (), policy.after_date),
    )


def sse_event(event: TaskEvent) -> bytes:
    payload = {"type": event.type, "timestamp": iso(event.created_at), **event.data}
    return f"id: {event.seq}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def tasks_router(
    tasks: TaskService | None,
    *,
    max_body_bytes: int,
    guard: Callable[..., Awaitable[Caller]],
    heartbeat_seconds: float = 5.0,
) -> APIRouter:
    """The task routes under `/v1` (and Parallel's `/v1beta`); no `tasks`: 503."""
    router = APIRouter()
    GuardedCaller = Annotated[Caller, Depends(guard)]

    def available() -> TaskService:
        if tasks is None:
            raise ServiceUnavailableError("task runs are not available on this server")
        return tasks

    async def create_run(request: Request, caller: GuardedCaller) -> Response:
        body = parse_task_run(await read_json_body(request, max_body_bytes))
        spec = to_run_spec(body)
        service = available()
        if service.interactions is not None and body.previous_interaction_id:
            earlier = await earlier_turns(service.interactions, body.previous_interaction_id, caller.identity)
            spec = dataclasses.replace(spec, history=tuple(earlier))
        run = await service.submit(
            caller.identity,
            spec,
            metadata=body.metadata,
            webhook=body.webhook.model_dump() if body.webhook else None,
        )
        return JSONResponse(run.public(), status_code=202)

    async def retrieve_run(run_id: str, caller: GuardedCaller) -> dict[str, Any]:
        return (await available().get(caller.identity, run_id)).public()

    async def run_result(
        run_id: str,
        caller: GuardedCaller,
        # Parallel's name; seconds to wait for the run to end before answering 408.
        wait_seconds: Annotated[float, Query(alias="timeout", ge=0, le=MAX_RESULT_TIMEOUT)] = DEFAULT_RESULT_TIMEOUT,
    ) -> dict[str, Any]:
        run, output = await available().result(caller.identity, run_id, wait_seconds)
        return {"run": run.public(), "output": output}

    async def cancel_run(run_id: str, caller: GuardedCaller) -> dict[str, Any]:
        return (await available().cancel(caller.identity, run_id)).public()

    async def run_events(run_id: str, request: Request, caller: GuardedCaller) -> Response:
        service = available()
        await service.get(caller.identity, run_id)  # a 404 before the stream begins
        last = request.headers.get("last-event-id", "0")
        after = int(last) if last.isdigit() else 0
        source = TickingSource(service.follow(caller.identity, run_id, after), heartbeat_seconds)

        async def stream() -> AsyncIterator[bytes]:
            try:
                while (event := await source.next()) is not None:
                    yield sse_comment("keep-alive") if isinstance(event, Heartbeat) else sse_event(event)
            except DeepciteError as exc:
                yield f"data: {json.dumps(error_body(exc))}\n\n".encode()
            finally:
                await source.aclose()

        return ClosingStreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def webhook_secret(caller: GuardedCaller) -> dict[str, str]:
        service = available()
        if service.webhooks is None:
            raise ServiceUnavailableError("webhooks are not available on this server")
        return {"secret": service.webhooks.secrets.for_caller(caller.identity)}

    for prefix in PREFIXES:
        shown = prefix == "/v1"
        router.add_api_route(f"{prefix}/tasks/webhook-secret", webhook_secret, methods=["GET"],
                             include_in_schema=shown, summary="This API key's webhook signing secret")
        router.add_api_route(f"{prefix}/tasks/runs", create_run, methods=["POST"], include_in_schema=shown,
                             summary="Create a task run")
        router.add_api_route(f"{prefix}/tasks/runs/{{run_id}}", retrieve_run, methods=["GET"],
                             include_in_schema=shown, summary="Retrieve a task run")
        router.add_api_route(f"{prefix}/tasks/runs/{{run_id}}/result", run_result, methods=["GET"],
                             include_in_schema=shown, summary="Wait for a task run's result")
        router.add_api_route(f"{prefix}/tasks/runs/{{run_id}}/events", run_events, methods=["GET"],
                             include_in_schema=shown, summary="Follow a task run's events (SSE)")
        router.add_api_route(f"{prefix}/tasks/runs/{{run_id}}/cancel", cancel_run, methods=["POST"],
                             include_in_schema=shown, summary="Cancel a task run")
    return router
