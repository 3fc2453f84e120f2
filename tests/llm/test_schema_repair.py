"""coerce_to_schema: any value in, a value the schema accepts out."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from deepcite.errors import StructuredOutputError
from deepcite.llm.structured import coerce_to_schema


def repaired(value: Any, schema: dict[str, Any]) -> Any:
    result = coerce_to_schema(value, schema)
    Draft202012Validator(schema).validate(result)
    return result


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "address", "tags"],
    "additionalProperties": False,
}


def test_a_valid_value_comes_back_untouched() -> None:
    value = {"name": "Ada", "age": 36, "address": {"city": "London", "zip": "W1"}, "tags": []}
    assert coerce_to_schema(value, PERSON) is value


def test_nested_objects_are_filled_and_pruned() -> None:
    value = {"name": "Ada", "age": "36 years", "address": {"city": "London", "planet": "Earth"}, "extra": 1}
    assert repaired(value, PERSON) == {
        "name": "Ada",
        "age": 36,
        "address": {"city": "London", "zip": ""},
        "tags": [],
    }


def test_an_object_is_built_from_nothing() -> None:
    assert repaired(None, PERSON) == {"name": "", "age": 0, "address": {"city": "", "zip": ""}, "tags": []}


def test_scalars_are_converted() -> None:
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "ratio": {"type": "number", "maximum": 1},
            "label": {"type": "string", "maxLength": 5},
            "ok": {"type": "boolean"},
            "nothing": {"type": "null"},
        },
        "required": ["count", "ratio", "label", "ok", "nothing"],
    }
    value = {"count": 3.7, "ratio": "2.5", "label": 123456789, "ok": "Yes", "nothing": "none"}
    assert repaired(value, schema) == {"count": 4, "ratio": 1, "label": "12345", "ok": True, "nothing": None}


def test_numbers_read_from_text_keep_thousands() -> None:
    assert repaired("5,889,000 visitors", {"type": "integer"}) == 5_889_000


def test_arrays_are_trimmed_padded_and_wrapped() -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}
    assert repaired([1, "2", 3, 4, 5], schema) == [1, 2, 3]
    assert repaired([7], schema) == [7, 0]
    assert repaired("9", {"type": "array", "items": {"type": "string"}}) == ["9"]
    assert repaired([1, 1, 2], {"type": "array", "uniqueItems": True}) == [1, 2]


def test_tuples_follow_prefix_items() -> None:
    schema = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": False}
    assert repaired([1, "2", "extra"], schema) == ["1", 2]


def test_enums_match_loosely_or_fall_back_to_the_first() -> None:
    schema = {"enum": ["low", "medium", "high"]}
    assert repaired(" High ", schema) == "high"
    assert repaired("certain", schema) == "low"
    assert repaired(None, {"type": "integer", "enum": [3, 5]}) == 3
    assert repaired("5", {"enum": [3, 5]}) == 5


def test_defaults_and_consts_fill_missing_values() -> None:
    schema = {
        "type": "object",
        "properties": {"lang": {"type": "string", "default": "en"}, "kind": {"const": "answer"}},
        "required": ["lang", "kind"],
    }
    assert repaired({}, schema) == {"lang": "en", "kind": "answer"}


def test_refs_to_defs_are_followed_recursively() -> None:
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["label", "children"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    }
    value = {"label": "root", "children": [{"label": 1}, {"children": [{"label": "leaf", "x": 0}]}]}
    assert repaired(value, schema) == {
        "label": "root",
        "children": [
            {"label": "1", "children": []},
            {"label": "", "children": [{"label": "leaf", "children": []}]},
        ],
    }


def test_any_of_prefers_a_branch_of_the_same_type() -> None:
    schema = {
        "anyOf": [
            {"type": "string"},
            {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        ]
    }
    assert repaired({"n": "3"}, schema) == {"n": 3}
    assert repaired(4, schema) == "4"
    assert repaired(None, {"anyOf": [{"type": "string"}, {"type": "null"}]}) is None


def test_one_of_picks_exactly_one_branch() -> None:
    schema = {
        "oneOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False},
            {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"], "additionalProperties": False},
        ]
    }
    assert repaired({"b": 1}, schema) == {"b": "1"}
    assert repaired({"a": "x", "b": "y"}, schema) == {"a": "x"}


def test_all_of_merges_its_parts() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ]
    }
    assert repaired({"b": "2"}, schema) == {"b": 2, "a": ""}


def test_number_bounds_are_respected() -> None:
    assert repaired(12, {"type": "integer", "exclusiveMaximum": 10}) == 9
    assert repaired(-1, {"type": "number", "minimum": 0.5}) == 0.5
    assert repaired(7, {"type": "integer", "multipleOf": 5}) == 5


def test_what_cannot_be_repaired_is_an_error() -> None:
    with pytest.raises(StructuredOutputError):
        coerce_to_schema("abc", {"type": "string", "pattern": "^[0-9]+$"})
    with pytest.raises(StructuredOutputError):
        coerce_to_schema(1, False)
