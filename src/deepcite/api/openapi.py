"""The OpenAPI document, with the request bodies FastAPI cannot see.

Our routes read their bodies themselves (size, depth and number limits come before
any parsing, see `body.py`), so FastAPI knows neither their models nor our errors.
`install_openapi` adds both: each body's pydantic model, with its limits, and
OpenAI's error envelope for every refusal a route can answer with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
ERRORS = {
    "400": "Invalid request: the message and `param` say which field and why.",
    "401": "Missing or wrong API key.",
    "404": "Unknown model or route.",
    "413": "Request body too large.",
    "429": "Rate limit or queue full; `retry-after` says when to come back.",
    "503": "Not ready, overloaded or a store is down; `retry-after` when it is worth retrying.",
}
GUARDED_ERRORS = ("401", "429", "503")


def _error_responses(codes: list[str]) -> dict[str, Any]:
    envelope = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
    return {code: {"description": ERRORS[code], "content": envelope} for code in codes}


def install_openapi(app: FastAPI, bodies: Mapping[str, type[BaseModel]]) -> None:
    """Describe `bodies` (path -> model of its POST body) and every route's errors in `app.openapi()`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        models = list(dict.fromkeys(bodies.values()))
        names, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(definitions.get("$defs", {}))
        schemas["ErrorResponse"] = ERROR_SCHEMA
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                guarded = path not in ("/healthz",)
                codes = ["404", *GUARDED_ERRORS] if guarded else []
                model = bodies.get(path) if method == "post" else None
                if model is not None:
                    operation["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": names[(model, "validation")]}},
                    }
                    codes = ["400", "413", *codes]
                operation.setdefault("responses", {}).update(_error_responses(sorted(set(codes))))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
