"""Read a JSON request body without ever holding more than `max_bytes` of it.

The declared `Content-Length` is checked first, then the bytes actually received are
counted, so a chunked or lying client is refused (413) before anything is parsed.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from deepcite.errors import InvalidRequestError, RequestTooLargeError


def _too_large(max_bytes: int) -> RequestTooLargeError:
    return RequestTooLargeError(f"Request body too large: the limit is {max_bytes} bytes.")


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)


async def read_json_body(request: Request, max_bytes: int) -> Any:
    body = await read_limited_body(request, max_bytes)
    if not body.strip():
        raise InvalidRequestError(
            "We could not parse the JSON body of your request: the body is empty. The API expects a JSON payload."
        )
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
            "using your HTTP library correctly. The API expects a JSON payload, but what was sent "
            "was not valid JSON.)"
        ) from exc
