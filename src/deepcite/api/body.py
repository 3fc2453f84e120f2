"""Read a JSON request body without ever holding more than `max_bytes` of it.

The declared `Content-Length` is checked first, then the bytes actually received are
counted, so a chunked or lying client is refused (413) before anything is parsed.
The decoded JSON must then keep the shape limits of `api.limits` (depth, number
literals, no lone UTF-16 surrogates): a 400 naming where it does not, never a 500
from deeper down.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

from starlette.requests import Request

from deepcite.api.limits import MAX_JSON_DEPTH, MAX_NUMBER_CHARS, THREADED_BODY_BYTES
from deepcite.errors import InvalidRequestError, RequestTooLargeError

_NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The API expects a JSON payload, but what was sent "
    "was not valid JSON.)"
)
# A UTF-16 surrogate on its own: `"\ud800"` decodes to one, and no UTF-8 encoder
# (SQLite, the tokenizer, our own responses) accepts it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    if len(body) > THREADED_BODY_BYTES:
        return await asyncio.to_thread(decode_json_body, body)
    return decode_json_body(body)


def decode_json_body(body: bytes) -> Any:
    """The body's JSON value, or a 400 when it is not JSON or breaks a shape limit."""
    if not body.strip():
        raise InvalidRequestError(
            "We could not parse the JSON body of your request: the body is empty. The API expects a JSON payload."
        )
    try:
        value = json.loads(body, parse_int=_integer, parse_float=_number, parse_constant=_constant)
    except _NumberRefused as exc:
        raise InvalidRequestError(f"Invalid request body: {exc}.") from exc
    except RecursionError as exc:
        raise InvalidRequestError(f"Invalid request body: JSON nested more than {MAX_JSON_DEPTH} levels deep.") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestError(_NOT_JSON) from exc
    check_json_shape(value)
    return value


class _NumberRefused(ValueError):
    pass


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberRefused(f"a number has {len(text):,} digits; at most {MAX_NUMBER_CHARS} are accepted")
    return int(text)


def _number(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberRefused(f"a number has {len(text):,} characters; at most {MAX_NUMBER_CHARS} are accepted")
    value = float(text)
    if not math.isfinite(value):
        raise _NumberRefused(f"the number {text} is out of range")
    return value


def _constant(text: str) -> Any:
    # Python's decoder takes NaN and Infinity; JSON (and OpenAI) do not.
    raise _NumberRefused(f"{text} is not valid JSON")


def check_json_shape(value: Any) -> None:
    """Refuse JSON nested deeper than `MAX_JSON_DEPTH` or holding a lone surrogate (a 400 naming where)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise _shape_error(path, f"nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise _shape_error(path, "the text holds a lone UTF-16 surrogate, which is not valid Unicode")
        elif isinstance(item, dict):
            for key, child in item.items():
                if _has_lone_surrogate(key):
                    raise _shape_error(path, "a key holds a lone UTF-16 surrogate, which is not valid Unicode")
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, str(i))) for i, child in enumerate(item))


def _has_lone_surrogate(text: str) -> bool:
    return not text.isascii() and _LONE_SURROGATE.search(text) is not None


def _shape_error(path: tuple[str, ...], problem: str) -> InvalidRequestError:
    if not path:
        return InvalidRequestError(f"Invalid request body: {problem}.")
    # Past the depth limit the path itself is noise: name where it began.
    param = ".".join(path[:8]) + (".…" if len(path) > 8 else "")
    return InvalidRequestError(f"Invalid value for '{param}': {problem}.", param=param)
