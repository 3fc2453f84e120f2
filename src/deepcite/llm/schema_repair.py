"""Deterministic repair of a JSON value so that it validates against a JSON Schema.

The last line of defence of structured answers: whatever a model wrote, the
client gets JSON its schema accepts (see `structured.complete_json`).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from deepcite.errors import StructuredOutputError

JsonSchema = Mapping[str, Any] | bool

# Deeper than any sane answer schema; stops runaway recursive `$ref`s.
MAX_DEPTH = 32


class _Missing:
    """A value that is absent (not JSON null): build one from the schema."""


MISSING = _Missing()


def coerce_to_schema(value: Any, schema: JsonSchema) -> Any:
    """Deterministically repair `value` so that it validates against `schema`.

    Missing required properties are filled (schema `default`, first enum value, or
    an empty value of the right type), disallowed properties dropped, scalars
    converted, arrays trimmed or padded. Pass `MISSING` (or None for a non-null
    schema) to build a value from scratch. Raises `StructuredOutputError` when the
    result still does not validate (say, a `pattern` no conversion can meet).
    """
    coercer = _Coercer(schema)
    result = coercer.coerce(value, schema, 0)
    error = best_match(coercer.validator.iter_errors(result))
    if error is not None:
        raise StructuredOutputError(
            f"cannot make the answer match the schema: {error.message} (at {error.json_path})"
        )
    return result


class _Coercer:
    def __init__(self, root: JsonSchema) -> None:
        self.root = root
        self.validator = validators.validator_for(root, default=Draft202012Validator)(root)

    def is_valid(self, value: Any, node: JsonSchema) -> bool:
        # `evolve` keeps the root's resolver, so `$ref`s inside `node` still resolve.
        return not isinstance(value, _Missing) and bool(self.validator.evolve(schema=node).is_valid(value))

    def coerce(self, value: Any, node: JsonSchema, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise StructuredOutputError("the schema nests too deeply to build an answer")
        if node is True or node == {}:
            return None if isinstance(value, _Missing) else value
        if node is False:
            raise StructuredOutputError("the schema `false` accepts no value")
        node = self._resolved(node)
        if self.is_valid(value, node):
            return value
        if "const" in node:
            return copy.deepcopy(node["const"])
        if "enum" in node:
            return _pick_enum(value, node["enum"])
        for keyword in ("anyOf", "oneOf"):
            if keyword in node:
                return self._coerce_branches(value, node, keyword, depth)
        if "allOf" in node:
            merged = _merge(_without(node, "allOf"), *(self._resolved(s) for s in node["allOf"]))
            return self.coerce(value, merged, depth + 1)
        if isinstance(value, _Missing) and "default" in node and self.is_valid(node["default"], node):
            return copy.deepcopy(node["default"])
        kind = _target_type(value, node)
        if kind is None:
            return None if isinstance(value, _Missing) else value
        return self._by_type[kind](self, value, node, depth)

    def _resolved(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen: set[str] = set()
        while isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise StructuredOutputError(f"$ref {ref!r} refers to itself")
            seen.add(ref)
            target = resolve_local_ref(self.root, ref)
            if target is True:
                target = {}
            if not isinstance(target, Mapping):
                raise StructuredOutputError(f"$ref {ref!r} points at a schema that accepts nothing")
            node = {**target, **_without(node, "$ref")}
        return node

    def _coerce_branches(self, value: Any, node: Mapping[str, Any], keyword: str, depth: int) -> Any:
        rest = _without(node, keyword)
        branches = [_merge(rest, self._resolved(b) if isinstance(b, Mapping) else {}) for b in node[keyword]]
        # Branches of the value's own type first (repair an object as an object),
        # and among objects the one that keeps most of the value's properties.
        own = _json_type(value)
        branches.sort(key=lambda b: (own is None or not _admits(b, own), _keys_lost(value, b)))
        for branch in branches:
            try:
                candidate = self.coerce(value, branch, depth + 1)
            except StructuredOutputError:
                continue
            if self.is_valid(candidate, node):
                return candidate
        raise StructuredOutputError(f"no branch of {keyword} can hold the answer")

    def _object(self, value: Any, node: Mapping[str, Any], depth: int) -> dict[str, Any]:
        if isinstance(value, str):
            value = _loads_or_none(value)
        source: dict[str, Any] = value if isinstance(value, dict) else {}
        properties: Mapping[str, Any] = node.get("properties", {})
        patterns: Mapping[str, Any] = node.get("patternProperties", {})
        extra = node.get("additionalProperties", node.get("unevaluatedProperties", True))
        required: list[str] = list(node.get("required", []))
        result: dict[str, Any] = {}
        ordered = [k for k in properties if k in source] + [k for k in source if k not in properties]
        for key in ordered:
            item = source[key]
            if key in properties:
                result[key] = self.coerce(item, properties[key], depth + 1)
            elif matching := [s for p, s in patterns.items() if re.search(p, key)]:
                result[key] = self.coerce(item, matching[0], depth + 1)
            elif extra is False:
                continue
            elif isinstance(extra, Mapping):
                result[key] = self.coerce(item, extra, depth + 1)
            else:
                result[key] = item
        for key in required:
            if key not in result:
                result[key] = self.coerce(MISSING, properties.get(key, True), depth + 1)
        limit = node.get("maxProperties")
        if isinstance(limit, int):
            optional = [k for k in reversed(list(result)) if k not in required]
            for key in optional[: max(0, len(result) - limit)]:
                del result[key]
        return result

    def _array(self, value: Any, node: Mapping[str, Any], depth: int) -> list[Any]:
        if isinstance(value, str):
            parsed = _loads_or_none(value)
            value = parsed if isinstance(parsed, list) else [value]
        elif isinstance(value, _Missing) or value is None:
            value = []
        elif not isinstance(value, list):
            value = [value]
        items = node.get("items", True)
        if isinstance(items, list):  # draft 2019 and older: a tuple of schemas
            prefix, rest = items, node.get("additionalItems", True)
        else:
            prefix, rest = node.get("prefixItems", []), items
        limit = node.get("maxItems")
        if rest is False:
            limit = len(prefix) if limit is None else min(limit, len(prefix))
        if isinstance(limit, int):
            value = value[:limit]

        def schema_at(index: int) -> Any:
            return prefix[index] if index < len(prefix) else rest

        result = [self.coerce(item, schema_at(i), depth + 1) for i, item in enumerate(value)]
        if node.get("uniqueItems"):
            unique: dict[str, Any] = {}
            for item in result:
                unique.setdefault(json.dumps(item, sort_keys=True), item)
            result = list(unique.values())
        while len(result) < node.get("minItems", 0):
            result.append(self.coerce(MISSING, schema_at(len(result)), depth + 1))
        return result

    def _string(self, value: Any, node: Mapping[str, Any], depth: int) -> str:
        if isinstance(value, _Missing) or value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = value
        elif isinstance(value, int | float):
            text = repr(value)
        else:
            text = json.dumps(value, ensure_ascii=False)
        if isinstance(node.get("maxLength"), int):
            text = text[: node["maxLength"]]
        return text.ljust(node.get("minLength", 0))

    def _number(self, value: Any, node: Mapping[str, Any], depth: int) -> float:
        return _clamp(_to_float(value), node, integer=False)

    def _integer(self, value: Any, node: Mapping[str, Any], depth: int) -> int:
        return int(_clamp(float(round(_to_float(value))), node, integer=True))

    def _boolean(self, value: Any, node: Mapping[str, Any], depth: int) -> bool:
        if isinstance(value, str):
            return value.strip().lower() in {"true", "yes", "y", "1", "on"}
        if isinstance(value, int | float):
            return value != 0
        return False

    def _null(self, value: Any, node: Mapping[str, Any], depth: int) -> None:
        return None

    _by_type: dict[str, Callable[[_Coercer, Any, Mapping[str, Any], int], Any]] = {
        "object": _object,
        "array": _array,
        "string": _string,
        "number": _number,
        "integer": _integer,
        "boolean": _boolean,
        "null": _null,
    }


def _target_type(value: Any, node: Mapping[str, Any]) -> str | None:
    declared = node.get("type")
    if isinstance(declared, str):
        types = [declared]
    elif isinstance(declared, list) and declared:
        types = list(declared)
    elif any(k in node for k in ("properties", "required", "additionalProperties", "patternProperties")):
        types = ["object"]
    elif any(k in node for k in ("items", "prefixItems", "minItems", "maxItems")):
        types = ["array"]
    else:
        return None
    own = _json_type(value)
    if own is not None and own in types:
        return own
    if own == "integer" and "number" in types:
        return "number"
    if own in (None, "null") and "null" in types:
        return "null"
    if isinstance(value, str) and _number_in(value) is not None:
        for numeric in ("number", "integer"):
            if numeric in types:
                return numeric
    return next((t for t in types if t != "null"), types[0])


def _json_type(value: Any) -> str | None:
    if isinstance(value, _Missing):
        return None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _admits(node: Mapping[str, Any], kind: str) -> bool:
    declared = node.get("type")
    types = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else []
    return kind in types or (kind == "integer" and "number" in types)


def _keys_lost(value: Any, node: Mapping[str, Any]) -> int:
    if not isinstance(value, dict) or node.get("additionalProperties", True) is not False:
        return 0
    return len(set(value) - set(node.get("properties", {})))


def _pick_enum(value: Any, options: list[Any]) -> Any:
    if isinstance(value, str):
        wanted = value.strip().casefold()
        for option in options:
            if isinstance(option, str) and option.strip().casefold() == wanted:
                return option
    for option in options:
        if not isinstance(value, _Missing) and str(option) == str(value):
            return copy.deepcopy(option)
    return copy.deepcopy(options[0]) if options else None


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        number = _number_in(value) or 0.0
    else:
        number = 0.0
    return number if math.isfinite(number) else 0.0


def _number_in(text: str) -> float | None:
    # Thousands separators ("5,889,000") are dropped before reading the number.
    match = re.search(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text.replace(",", ""))
    return float(match.group()) if match else None


def _clamp(number: float, node: Mapping[str, Any], *, integer: bool) -> float:
    step = 1.0 if integer else 1e-9
    if isinstance(node.get("minimum"), int | float):
        number = max(number, node["minimum"])
    if isinstance(node.get("exclusiveMinimum"), int | float) and number <= node["exclusiveMinimum"]:
        number = math.floor(node["exclusiveMinimum"]) + 1 if integer else node["exclusiveMinimum"] + step
    if isinstance(node.get("maximum"), int | float):
        number = min(number, node["maximum"])
    if isinstance(node.get("exclusiveMaximum"), int | float) and number >= node["exclusiveMaximum"]:
        number = math.ceil(node["exclusiveMaximum"]) - 1 if integer else node["exclusiveMaximum"] - step
    multiple = node.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        number = round(number / multiple) * multiple
    if integer and isinstance(node.get("minimum"), int | float) and number < node["minimum"]:
        number = math.ceil(node["minimum"])
    return number


def _merge(base: Mapping[str, Any], *others: Mapping[str, Any]) -> dict[str, Any]:
    """Shallow union of schemas: properties merged, required lists joined."""
    merged = dict(base)
    for other in others:
        for key, item in other.items():
            if key == "properties":
                merged[key] = {**merged.get(key, {}), **item}
            elif key == "required":
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *item]))
            else:
                merged[key] = item
    return merged


def _without(node: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}


def resolve_local_ref(root: JsonSchema, ref: str) -> Any:
    if not ref.startswith("#"):
        raise StructuredOutputError(f"only local $ref ('#/...') are supported, not {ref!r}")
    target: Any = root
    for raw in [p for p in ref[1:].split("/") if p]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(target, Mapping) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise StructuredOutputError(f"$ref {ref!r} does not resolve")
    return target


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
