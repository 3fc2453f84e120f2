"""One place renders every error as OpenAI's envelope `{"error": {message, type, param, code}}`.

`DeepciteError`s carry their own status and type; routing errors (404, 405), request
validation and anything unexpected are translated here, so no route builds an error
body by hand. Unexpected exceptions become a generic 500: the traceback goes to the
log, never into the body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepcite.errors import DeepciteError, InvalidRequestError

logger = logging.getLogger("deepcite.api")

GENERIC_SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


def error_body(error: DeepciteError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def error_response(error: DeepciteError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    all_headers = dict(headers or {})
    retry_after = getattr(error, "retry_after", None)  # rate limits and full queues say when to come back
    if isinstance(retry_after, int | float):
        all_headers["retry-after"] = str(max(1, round(retry_after + 0.5)))
    return JSONResponse(error_body(error), status_code=error.status_code, headers=all_headers)


def unexpected_error() -> DeepciteError:
    return DeepciteError(GENERIC_SERVER_ERROR)


def validation_error(errors: Sequence[Any], *, strip_location: bool = False) -> InvalidRequestError:
    """The first pydantic error as a 400 whose `param` is the field path (`messages.0.content`)."""
    if not errors:
        return InvalidRequestError("Invalid request.")
    first = errors[0]
    location = list(first.get("loc", ()))
    if strip_location and location and location[0] in {"body", "query", "path", "header"}:
        location = location[1:]
    param = ".".join(str(part) for part in location) or None
    detail = str(first.get("msg", "invalid value"))
    if param is None:
        return InvalidRequestError(f"Invalid request body: {detail}.")
    if first.get("type") == "missing":
        return InvalidRequestError(f"Missing required parameter: '{param}'.", param=param)
    return InvalidRequestError(f"Invalid value for '{param}': {detail}.", param=param)


async def _deepcite_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, DeepciteError):  # pragma: no cover - registered for DeepciteError only
        raise exc
    if exc.status_code >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException only
        raise exc
    route = f"{request.method} {request.url.path}"
    error: DeepciteError
    if exc.status_code == 404:
        error = InvalidRequestError(f"Invalid URL ({route})")
    elif exc.status_code == 405:
        error = InvalidRequestError(f"Method not allowed ({route})", code="method_not_allowed")
    else:
        error = InvalidRequestError(str(exc.detail))
    error.status_code = exc.status_code
    return error_response(error, headers=exc.headers)


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    return error_response(validation_error(exc.errors(), strip_location=True))


class UnexpectedErrorMiddleware:
    """Turn any exception that escaped the handlers into a generic 500 envelope.

    Starlette's own 500 handler re-raises after responding; this one logs the
    traceback once and ends the request cleanly.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                # Headers are gone; the connection just ends.
                return
            await error_response(unexpected_error())(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DeepciteError, _deepcite_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_middleware(UnexpectedErrorMiddleware)
