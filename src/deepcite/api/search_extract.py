"""Parallel's Search and Extract APIs: `POST /v1/search` and `POST /v1/extract`.

Requests are read leniently (unknown fields are ignored, `excerpts` and
`full_content` take a boolean or a settings object) and turned into the engine's
value objects; the work itself is `deepcite.research.search_service`'s. A bad
field is a 400 in OpenAI's envelope whose `param` names it.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, ValidationError

from deepcite.api.body import read_json_body
from deepcite.api.errors import validation_error
from deepcite.api.limits import MAX_NAME_CHARS, MAX_QUERY_CHARS, MAX_URL_CHARS
from deepcite.errors import InvalidRequestError, ServiceUnavailableError
from deepcite.research.search_service import (
    DEFAULT_EXCERPTS_PER_RESULT,
    DEFAULT_EXTRACT_EXCERPT_CHARS,
    DEFAULT_MAX_RESULTS,
    DEFAULT_SEARCH_EXCERPT_CHARS,
    ExtractFailure,
    ExtractOutcome,
    ExtractRequest,
    PageResult,
    WebSearchRequest,
)
from deepcite.search.policy import SourcePolicy

MAX_SEARCH_RESULTS = 40
MAX_SEARCH_QUERIES = 10
MAX_EXTRACT_URLS = 20
MAX_EXCERPT_CHARS = 100_000
MAX_OBJECTIVE_CHARS = 5_000
MAX_DOMAINS = 100

Query = Annotated[str, StringConstraints(max_length=MAX_QUERY_CHARS)]
Url = Annotated[str, StringConstraints(max_length=MAX_URL_CHARS)]
Domain = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)]


class SearchExtract(Protocol):
    """What these routes need from the engine side (`SearchService`)."""

    async def search(self, request: WebSearchRequest) -> list[PageResult]: ...

    async def extract(self, request: ExtractRequest) -> ExtractOutcome: ...


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ExcerptSettings(_Lenient):
    max_chars_per_result: int | None = Field(default=None, ge=1, le=MAX_EXCERPT_CHARS)
    max_results: int | None = Field(default=None, ge=1, le=MAX_SEARCH_RESULTS)


class FullContentSettings(_Lenient):
    max_chars_per_result: int | None = Field(default=None, ge=1)


class SourcePolicyBody(_Lenient):
    include_domains: list[Domain] | None = Field(default=None, max_length=MAX_DOMAINS)
    exclude_domains: list[Domain] | None = Field(default=None, max_length=MAX_DOMAINS)
    after_date: datetime.date | None = None


class SearchBody(_Lenient):
    objective: str | None = Field(default=None, max_length=MAX_OBJECTIVE_CHARS)
    search_queries: list[Query] | None = Field(default=None, max_length=MAX_SEARCH_QUERIES)
    max_results: int | None = Field(default=None, ge=1, le=MAX_SEARCH_RESULTS)
    source_policy: SourcePolicyBody | None = None
    excerpts: ExcerptSettings | None = None
    # Also accepted at the top level, as older clients send it.
    max_chars_per_result: int | None = Field(default=None, ge=1, le=MAX_EXCERPT_CHARS)


class ExtractBody(_Lenient):
    urls: list[Url] = Field(min_length=1, max_length=MAX_EXTRACT_URLS)
    objective: str | None = Field(default=None, max_length=MAX_OBJECTIVE_CHARS)
    search_queries: list[Query] | None = Field(default=None, max_length=MAX_SEARCH_QUERIES)
    excerpts: StrictBool | ExcerptSettings = True
    full_content: StrictBool | FullContentSettings = False


class SearchResultOut(BaseModel):
    url: str
    title: str | None
    publish_date: str | None
    excerpts: list[str]


class SearchResponse(BaseModel):
    search_id: str
    results: list[SearchResultOut]


class ExtractResultOut(BaseModel):
    url: str
    title: str | None
    publish_date: str | None
    excerpts: list[str] | None
    full_content: str | None


class ExtractErrorOut(BaseModel):
    url: str
    error_type: str
    http_status_code: int | None
    content: str


class ExtractResponse(BaseModel):
    extract_id: str
    results: list[ExtractResultOut]
    errors: list[ExtractErrorOut]


_Body = TypeVar("_Body", bound=BaseModel)

# Pydantic names the matched member of a union in an error's path (`excerpts.ExcerptSettings`).
_UNION_TAGS = {"bool", ExcerptSettings.__name__, FullContentSettings.__name__}


def _parse(model: type[_Body], data: Any) -> _Body:
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": tuple(p for p in e["loc"] if p not in _UNION_TAGS)} for e in exc.errors()]
        raise validation_error(errors) from exc


def _texts(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in values or () if v.strip())


def to_search_request(body: SearchBody) -> WebSearchRequest:
    queries = _texts(body.search_queries)
    objective = (body.objective or "").strip() or None
    if objective is None and not queries:
        raise InvalidRequestError(
            "Provide an 'objective' or at least one non-empty entry in 'search_queries'.", param="objective"
        )
    policy = body.source_policy or SourcePolicyBody()
    excerpts = body.excerpts or ExcerptSettings()
    return WebSearchRequest(
        objective=objective,
        search_queries=queries,
        max_results=body.max_results or DEFAULT_MAX_RESULTS,
        source_policy=SourcePolicy.of(policy.include_domains or (), policy.exclude_domains or (), policy.after_date),
        max_chars_per_result=excerpts.max_chars_per_result or body.max_chars_per_result or DEFAULT_SEARCH_EXCERPT_CHARS,
        max_excerpts_per_result=excerpts.max_results or DEFAULT_EXCERPTS_PER_RESULT,
    )


def to_extract_request(body: ExtractBody) -> ExtractRequest:
    urls = tuple(url.strip() for url in body.urls)
    if any(not url for url in urls):
        raise InvalidRequestError("Every entry of 'urls' must be a non-empty URL.", param="urls")
    excerpt_chars = body.excerpts.max_chars_per_result if isinstance(body.excerpts, ExcerptSettings) else None
    full_chars = body.full_content.max_chars_per_result if isinstance(body.full_content, FullContentSettings) else None
    return ExtractRequest(
        urls=urls,
        objective=(body.objective or "").strip() or None,
        search_queries=_texts(body.search_queries),
        excerpts=body.excerpts is not False,
        full_content=body.full_content is not False,
        max_chars_per_result=excerpt_chars or DEFAULT_EXTRACT_EXCERPT_CHARS,
        max_full_content_chars=full_chars,
    )


def search_response(results: list[PageResult]) -> SearchResponse:
    return SearchResponse(
        search_id=f"search_{uuid.uuid4().hex}",
        results=[
            SearchResultOut(url=r.url, title=r.title or None, publish_date=r.publish_date, excerpts=r.excerpts or [])
            for r in results
        ],
    )


def _error_out(failure: ExtractFailure) -> ExtractErrorOut:
    return ExtractErrorOut(
        url=failure.url,
        error_type=failure.error_type,
        http_status_code=failure.http_status_code,
        content=failure.message,
    )


def extract_response(outcome: ExtractOutcome) -> ExtractResponse:
    return ExtractResponse(
        extract_id=f"extract_{uuid.uuid4().hex}",
        results=[
            ExtractResultOut(
                url=r.url,
                title=r.title or None,
                publish_date=r.publish_date,
                excerpts=r.excerpts,
                full_content=r.full_content,
            )
            for r in outcome.results
        ],
        errors=[_error_out(f) for f in outcome.errors],
    )


def search_extract_router(
    service: SearchExtract | None, *, max_body_bytes: int, guard: Callable[..., Awaitable[Any]]
) -> APIRouter:
    """The two routes, each behind `guard` (auth, then rate limit); no `service`: 503."""
    router = APIRouter(dependencies=[Depends(guard)])

    def available() -> SearchExtract:
        if service is None:
            raise ServiceUnavailableError("search and extract are not available on this server")
        return service

    @router.post("/v1/search", summary="Search the web (or the local index) for an objective")
    async def search(request: Request) -> SearchResponse:
        body = _parse(SearchBody, await read_json_body(request, max_body_bytes))
        return search_response(await available().search(to_search_request(body)))

    @router.post("/v1/extract", summary="Read pages and return their excerpts or full text")
    async def extract(request: Request) -> ExtractResponse:
        body = _parse(ExtractBody, await read_json_body(request, max_body_bytes))
        return extract_response(await available().extract(to_extract_request(body)))

    return router
