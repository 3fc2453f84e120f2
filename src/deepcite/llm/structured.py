"""JSON answers that always validate: generate, check, retry, then repair.

`complete_json` asks a `ChatModel` for JSON under a JSON Schema, validates what
comes back, retries with the validation error in the conversation, and as a last
resort repairs the best attempt with `coerce_to_schema`, a deterministic function
that turns any value into one the schema accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, SchemaError, validators
from jsonschema.exceptions import best_match

from deepcite.errors import InvalidRequestError, StructuredOutputError
from deepcite.llm.base import ChatMessage, ChatModel, GenerationOptions
from deepcite.llm.schema_limits import SCHEMA_PARAM, check_schema_limits
from deepcite.llm.schema_repair import MISSING, coerce_to_schema, resolve_local_ref

__all__ = ["check_schema", "coerce_to_schema", "complete_json", "extract_json"]

# How many shorter cuts of a truncated JSON text are tried before giving up.
MAX_TRUNCATION_REPAIRS = 64


def check_schema(schema: Any, *, max_output_tokens: int | None = None) -> None:
    """Raise `InvalidRequestError` unless `schema` is a JSON Schema we can honour.

    Besides being a valid schema it must keep `schema_limits`' bounds: no recursion,
    a bounded size and depth, and (given `max_output_tokens`) an answer that fits.
    """
    if not isinstance(schema, dict | bool):
        raise InvalidRequestError(f"{SCHEMA_PARAM} must be a JSON object", param="response_format")
    if isinstance(schema, dict) and not isinstance(schema.get("$schema", ""), str):
        raise InvalidRequestError(f"{SCHEMA_PARAM}: $schema must be a string", param="response_format")
    validator_class = validators.validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise InvalidRequestError(
            f"{SCHEMA_PARAM} is not a valid JSON Schema: {exc.message} (at {where})",
            param="response_format",
        ) from exc
    for ref in _refs_in(schema):
        try:
            resolve_local_ref(schema, ref)
        except StructuredOutputError as exc:
            raise InvalidRequestError(f"{SCHEMA_PARAM}: {exc.message}", param="response_format") from exc
    check_schema_limits(schema, max_output_tokens=max_output_tokens)


async def complete_json(
    model: ChatModel,
    messages: list[ChatMessage],
    schema: dict[str, Any],
    *,
    max_tokens: int,
    retries: int = 2,
) -> Any:
    """A JSON value valid against `schema`, from `model` or repaired from its best attempt."""
    check_schema(schema)
    validator = validators.validator_for(schema, default=Draft202012Validator)(schema)
    conversation = list(messages)
    options = GenerationOptions(max_tokens=max_tokens, json_schema=schema)
    best: Any = MISSING
    problem = "no attempt was made"
    for attempt in range(retries + 1):
        try:
            text = "".join([piece async for piece in model.stream(conversation, options)])
        except InvalidRequestError as exc:
            # The retry conversation outgrew the context: repair what we have.
            if attempt > 0 and exc.code == "context_length_exceeded":
                break
            raise
        try:
            value = extract_json(text)
        except ValueError as exc:
            problem = f"the reply was not JSON ({exc})"
        else:
            error = best_match(validator.iter_errors(value))
            if error is None:
                return value
            best = value
            problem = f"the JSON does not match the schema: {error.message} (at {error.json_path})"
        conversation += [
            ChatMessage("assistant", text),
            ChatMessage("user", f"That reply was rejected: {problem}. Reply with the corrected JSON only."),
        ]
    if best is not MISSING:
        return coerce_to_schema(best, schema)
    raise StructuredOutputError(f"the model gave no usable JSON in {retries + 1} attempts: {problem}")


def extract_json(text: str) -> Any:
    """The JSON value in `text`, tolerating code fences, chatter around it and truncation."""
    try:
        return _extract_json(text)
    except RecursionError as exc:  # json's decoder recurses once per level of nesting
        raise ValueError("the JSON nests too deeply") from exc


def _extract_json(text: str) -> Any:
    stripped = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", text)
    try:
        return json.loads(stripped, strict=False)
    except json.JSONDecodeError as exc:
        first_error = exc
    start = min((i for i in (stripped.find("{"), stripped.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError(f"no JSON object or array found: {first_error.msg}")
    try:
        return json.JSONDecoder(strict=False).raw_decode(stripped, start)[0]
    except json.JSONDecodeError:
        pass
    for candidate in _closed_prefixes(stripped[start:]):
        try:
            return json.loads(candidate, strict=False)
        except json.JSONDecodeError:
            continue
    raise ValueError(f"unreadable JSON: {first_error.msg} at character {first_error.pos}")


def _closed_prefixes(text: str) -> Iterator[str]:
    """Cuts of a truncated JSON text, longest first, with brackets closed."""
    closers = {"{": "}", "[": "]"}
    stack: list[str] = []
    in_string = escaped = False
    cuts: list[tuple[int, str]] = []
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                cuts.append((i + 1, "".join(reversed(stack))))
            continue
        if char == '"':
            in_string = True
        elif char in closers:
            stack.append(closers[char])
        elif char in "}]" and stack:
            stack.pop()
            cuts.append((i + 1, "".join(reversed(stack))))
        elif char.isdigit() or char in "el":  # ends of numbers, true, false, null
            cuts.append((i + 1, "".join(reversed(stack))))
    if in_string:
        body = text[:-1] if escaped else text
        yield body + '"' + "".join(reversed(stack))
    for end, closing in reversed(cuts[-MAX_TRUNCATION_REPAIRS:]):
        yield text[:end] + closing


def _refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, item in node.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            elif key not in ("const", "enum", "default", "examples"):
                yield from _refs_in(item)
    elif isinstance(node, list):
        for item in node:
            yield from _refs_in(item)
