"""The bounds a response schema must keep before any model sees it.

A schema comes from a stranger and drives three things that can each be made to
blow up: the grammar llama.cpp parses (a wide repetition range nests one group per
repetition), the validator and repairer (recursive `$ref`s recurse forever), and
the size of the answer (`minLength` in the millions is megabytes of output).
`check_schema_limits` refuses such schemas with a 400 that names the keyword at
fault; `grammar_schema` gives the converter a copy whose repetition ranges are
narrow enough to become a flat grammar (validation and repair still enforce the
original bounds on the answer).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from deepcite.errors import InvalidRequestError, StructuredOutputError
from deepcite.llm.schema_repair import resolve_local_ref

SCHEMA_PARAM = "response_format.json_schema.schema"
# Subschemas visited with every `$ref` expanded: bounds a DAG of refs that would
# expand exponentially ("billion laughs") as much as a plainly huge schema.
MAX_SCHEMA_NODES = 2_000
# Nesting of subschemas; the repairer allows 32 levels of its own steps.
MAX_SCHEMA_DEPTH = 20
# Generous: answers average about 4 characters per token, padding at most this many.
MAX_CHARS_PER_TOKEN = 8
# Widest repetition range (maxLength − minLength, maxItems − minItems, a pattern's
# {m,n}) kept in the grammar. llama.cpp nests one group per optional repetition and
# parses them recursively: 20,000 of them overflow its stack (a SIGSEGV, not an error).
GRAMMAR_MAX_REPEAT = 32

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = (
    "items", "additionalItems", "additionalProperties", "unevaluatedItems", "unevaluatedProperties",
    "contains", "propertyNames", "not", "if", "then", "else",
)
_QUANTIFIER = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")


def check_schema_limits(schema: Any, *, max_output_tokens: int | None = None) -> None:
    """Raise `InvalidRequestError` (param: the keyword's path) unless `schema` stays within bounds.

    Refused: recursion through `$ref` (or `$dynamicRef`), more than `MAX_SCHEMA_NODES`
    subschemas once refs are expanded, deeper than `MAX_SCHEMA_DEPTH`, and, given
    `max_output_tokens`, a schema whose shortest valid answer cannot fit in them.
    """
    if not isinstance(schema, Mapping):
        return
    _Walk(schema).visit(schema, (), depth=0, expanding=())
    if max_output_tokens is not None:
        shortest = _ShortestAnswer(schema)
        chars = shortest.chars(schema, ())
        budget = max_output_tokens * MAX_CHARS_PER_TOKEN
        if chars > budget:
            where = shortest.culprit or ()
            raise _refusal(
                where,
                f"the shortest answer it allows is {_count(chars)} characters, more than this model "
                f"writes ({max_output_tokens} tokens, about {_count(budget)} characters)",
            )


def grammar_schema(schema: Any) -> Any:
    """A copy of `schema` for the grammar converter, without repetition ranges it cannot nest.

    A `maxLength`/`maxItems` more than `GRAMMAR_MAX_REPEAT` above its minimum is dropped
    (the generation budget bounds the output instead), as is a `pattern` with a wide
    `{m,n}`; the answer is still validated, and repaired, against the original.
    """
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    copy: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("const", "enum", "default", "examples"):
            copy[key] = value
        else:
            copy[key] = grammar_schema(value)
    for low, high in (("minLength", "maxLength"), ("minItems", "maxItems")):
        if _wider_than(copy.get(low), copy.get(high), GRAMMAR_MAX_REPEAT):
            del copy[high]
        if isinstance(copy.get(low), int) and copy[low] > GRAMMAR_MAX_REPEAT * 32:
            del copy[low]  # a flat run this long only bloats the grammar: repair pads instead
    pattern = copy.get("pattern")
    if isinstance(pattern, str) and _has_wide_quantifier(pattern):
        del copy["pattern"]
    return copy


def _wider_than(low: Any, high: Any, limit: int) -> bool:
    if not isinstance(high, int) or isinstance(high, bool):
        return False
    floor = low if isinstance(low, int) and not isinstance(low, bool) else 0
    return high - floor > limit


def _has_wide_quantifier(pattern: str) -> bool:
    for match in _QUANTIFIER.finditer(pattern):
        low = int(match[1])
        high = match[2]
        if low > GRAMMAR_MAX_REPEAT or (high and int(high) - low > GRAMMAR_MAX_REPEAT):
            return True
    return False


def _refusal(path: tuple[str, ...], problem: str) -> InvalidRequestError:
    where = ".".join(path)
    param = f"{SCHEMA_PARAM}.{where}" if where else SCHEMA_PARAM
    return InvalidRequestError(f"{param}: {problem}.", param=param)


def _count(number: int | float) -> str:
    return f"{int(number):,}" if math.isfinite(number) else "unbounded"


def pointer_path(ref: str) -> tuple[str, ...]:
    """The parts of a local `$ref` ("#/$defs/a~1b" -> ("$defs", "a/b"))."""
    return tuple(unquote(p).replace("~1", "/").replace("~0", "~") for p in ref.removeprefix("#").split("/") if p)


def subschemas(node: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(relative path, subschema) of every schema-valued keyword of `node`."""
    for key in _SCHEMA_MAPS:
        value = node.get(key)
        if isinstance(value, Mapping):
            for name, item in value.items():
                yield (key, str(name)), item
    for key in _SCHEMA_LISTS:
        value = node.get(key)
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield (key, str(i)), item
    for key in _SCHEMA_VALUES:
        if key not in node:
            continue
        value = node[key]
        if isinstance(value, list):  # draft 2019 and older: `items` as a tuple
            for i, item in enumerate(value):
                yield (key, str(i)), item
        else:
            yield (key,), value


class _Walk:
    """One walk over the schema with `$ref`s expanded: counts, depth and recursion."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.nodes = 0

    def visit(self, node: Any, path: tuple[str, ...], *, depth: int, expanding: tuple[str, ...]) -> None:
        if not isinstance(node, Mapping):
            return
        self.nodes += 1
        if self.nodes > MAX_SCHEMA_NODES:
            raise _refusal(path, f"the schema is too large (more than {MAX_SCHEMA_NODES:,} subschemas, refs expanded)")
        if depth > MAX_SCHEMA_DEPTH or len(expanding) > MAX_SCHEMA_DEPTH:
            raise _refusal(path, f"the schema nests more than {MAX_SCHEMA_DEPTH} levels deep")
        for dynamic in ("$dynamicRef", "$recursiveRef"):
            if dynamic in node:
                raise _refusal((*path, dynamic), "recursive schemas are not supported")
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in expanding:
                raise _refusal(
                    (*path, "$ref"), f"recursive schemas are not supported ({ref!r} refers back to itself)"
                )
            try:
                target = resolve_local_ref(self.root, ref)
            except StructuredOutputError as exc:
                raise _refusal((*path, "$ref"), exc.message) from exc
            # Named where it is written (`$defs.node...`), not by the path that reached it.
            self.visit(target, pointer_path(ref), depth=depth, expanding=(*expanding, ref))
        for relative, child in subschemas(node):
            if relative[0] in ("$defs", "definitions"):
                continue  # visited where they are used, with the refs that reach them
            self.visit(child, (*path, *relative), depth=depth + 1, expanding=expanding)


@dataclasses.dataclass
class _ShortestAnswer:
    """A lower bound of the characters of the shortest JSON text valid against the schema.

    Bounds are taken low wherever the schema leaves a choice (the cheapest branch of
    `anyOf`, any type when none is declared), so a refusal is never a false alarm.
    Runs after `_Walk`, so refs do not recurse.
    """

    root: Mapping[str, Any]
    culprit: tuple[str, ...] | None = None
    _worst: float = 0.0

    def _blame(self, path: tuple[str, ...], size: float) -> None:
        # The deepest keyword that alone demands the most is the one to name.
        if size >= self._worst:
            self._worst, self.culprit = size, path

    def chars(self, node: Any, path: tuple[str, ...]) -> float:
        if node is False:
            return 0.0
        if not isinstance(node, Mapping):
            return 1.0
        ref = node.get("$ref")
        floor = 0.0
        if isinstance(ref, str):
            floor = self.chars(resolve_local_ref(self.root, ref), pointer_path(ref))
        if "const" in node:
            return max(floor, float(len(json.dumps(node["const"]))))
        if isinstance(node.get("enum"), list) and node["enum"]:
            return max(floor, float(min(len(json.dumps(v)) for v in node["enum"])))
        for keyword in ("anyOf", "oneOf"):
            branches = node.get(keyword)
            if isinstance(branches, list) and branches:
                options = [functools.partial(self.chars, b, (*path, keyword, str(i))) for i, b in enumerate(branches)]
                floor = max(floor, self._cheapest(options))
        branches = node.get("allOf")
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                floor = max(floor, self.chars(branch, (*path, "allOf", str(i))))
        declared = node.get("type")
        types = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else []
        if not types:
            return max(floor, 1.0)
        return max(floor, self._cheapest([functools.partial(self._typed, str(k), node, path) for k in types]))

    def _cheapest(self, options: Sequence[Callable[[], float]]) -> float:
        """The smallest of the options; only the one chosen may name the culprit."""
        before = (self._worst, self.culprit)
        best: tuple[float, float, tuple[str, ...] | None] = (math.inf, *before)
        for option in options:
            self._worst, self.culprit = before
            size = option()
            if size < best[0]:
                best = (size, self._worst, self.culprit)
        self._worst, self.culprit = best[1], best[2]
        return best[0]

    def _typed(self, kind: str, node: Mapping[str, Any], path: tuple[str, ...]) -> float:
        if kind == "string":
            least = _natural(node.get("minLength"))
            size = 2.0 + least
            if least:
                self._blame((*path, "minLength"), size)
            return size
        if kind == "array":
            return self._array(node, path)
        if kind == "object":
            return self._object(node, path)
        if kind in ("boolean", "null"):
            return 4.0
        return 1.0

    def _array(self, node: Mapping[str, Any], path: tuple[str, ...]) -> float:
        count = _natural(node.get("minItems"))
        if not count:
            return 2.0
        items = node.get("items", True)
        prefix = node.get("prefixItems", items if isinstance(items, list) else [])
        rest = items if not isinstance(items, list) else node.get("additionalItems", True)
        size = 2.0 + (count - 1)  # brackets and commas
        for i, item in enumerate(prefix[: int(min(count, len(prefix)))]):
            size += self.chars(item, (*path, "prefixItems", str(i)))
        if count > len(prefix):
            size += (count - len(prefix)) * self.chars(rest, (*path, "items"))
        self._blame((*path, "minItems"), size)
        return size

    def _object(self, node: Mapping[str, Any], path: tuple[str, ...]) -> float:
        required = node.get("required")
        properties = node.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        names = [n for n in dict.fromkeys(required) if isinstance(n, str)] if isinstance(required, list) else []
        size = 2.0 + max(0, len(names) - 1)
        for name in names:
            value = self.chars(properties.get(name, True), (*path, "properties", name))
            size += len(json.dumps(name)) + 1 + value
        least = _natural(node.get("minProperties"))
        if least > len(names):
            size += (least - len(names)) * 5  # `"k":0` and a comma, at the least
            self._blame((*path, "minProperties"), size)
        return size


def _natural(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return 0.0
    return float(min(value, 10**18))  # beyond any budget, and never a float overflow
