"""Schemas that would crash llama.cpp, recurse forever or demand megabytes are refused or tamed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deepcite.errors import InvalidRequestError
from deepcite.llm.grammar import GBNF_MAX_NESTING, gbnf_problem, schema_to_gbnf
from deepcite.llm.schema_limits import GRAMMAR_MAX_REPEAT, MAX_SCHEMA_NODES, check_schema_limits, grammar_schema
from deepcite.llm.structured import check_schema

PARAM = "response_format.json_schema.schema"


def refusal(schema: Any, max_output_tokens: int | None = 192) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        check_schema(schema, max_output_tokens=max_output_tokens)
    assert caught.value.status_code == 400
    return caught.value


def one_field(**string: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"summary": {"type": "string", **string}}, "required": ["summary"]}


@pytest.mark.parametrize(
    ("schema", "param"),
    [
        ({"$ref": "#"}, f"{PARAM}.$ref"),
        ({"type": "object", "properties": {"self": {"$ref": "#"}}}, f"{PARAM}.properties.self.$ref"),
        (
            {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
            f"{PARAM}.$defs.b.$ref",
        ),
        (
            {
                "$defs": {
                    "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
                },
                "$ref": "#/$defs/node",
            },
            f"{PARAM}.$defs.node.properties.kids.items.$ref",
        ),
        ({"anyOf": [{"type": "string"}, {"allOf": [{"$ref": "#"}]}]}, f"{PARAM}.anyOf.1.allOf.0.$ref"),
        ({"$dynamicRef": "#meta"}, f"{PARAM}.$dynamicRef"),
    ],
)
def test_recursive_schemas_are_a_400_naming_the_ref(schema: dict[str, Any], param: str) -> None:
    error = refusal(schema)
    assert error.param == param
    assert "recursive schemas are not supported" in error.message


def test_a_ref_used_twice_without_recursion_is_fine() -> None:
    schema = {
        "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "type": "object",
        "properties": {"author": {"$ref": "#/$defs/person"}, "editor": {"$ref": "#/$defs/person"}},
    }
    check_schema(schema, max_output_tokens=192)


def test_refs_that_expand_exponentially_are_too_large() -> None:
    # Twelve levels of four refs each: tiny as written, 16 million subschemas expanded.
    defs: dict[str, Any] = {
        f"d{i}": {"type": "array", "prefixItems": [{"$ref": f"#/$defs/d{i + 1}"}] * 4} for i in range(12)
    }
    defs["d12"] = {"type": "integer"}
    error = refusal({"$defs": defs, "$ref": "#/$defs/d0"})
    assert f"more than {MAX_SCHEMA_NODES:,} subschemas" in error.message


def test_a_deep_schema_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(30):
        schema = {"type": "object", "properties": {"x": schema}}
    assert "levels deep" in refusal(schema).message


def test_a_long_chain_of_refs_is_refused() -> None:
    defs: dict[str, Any] = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(3_000)}
    defs["d3000"] = {"type": "string"}
    assert "levels deep" in refusal({"$defs": defs, "$ref": "#/$defs/d0"}).message


@pytest.mark.parametrize(
    ("schema", "param"),
    [
        (one_field(minLength=2_000_000), f"{PARAM}.properties.summary.minLength"),
        (
            {"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object"}, "minItems": 200_000}},
             "required": ["rows"]},
            f"{PARAM}.properties.rows.minItems",
        ),
        (
            {"type": "array", "minItems": 50, "items": {"type": "string", "minLength": 40}},
            f"{PARAM}.minItems",
        ),
        ({"type": "object", "minProperties": 1_000}, f"{PARAM}.minProperties"),
        # The cheapest branch decides, and it is the one named.
        (
            {"anyOf": [{"type": "string", "minLength": 10**9}, {"type": "string", "minLength": 5_000}]},
            f"{PARAM}.anyOf.1.minLength",
        ),
        (
            {"$defs": {"long": {"type": "string", "minLength": 100_000}}, "type": "object",
             "properties": {"a": {"$ref": "#/$defs/long"}}, "required": ["a"]},
            f"{PARAM}.$defs.long.minLength",
        ),
    ],
)
def test_a_schema_demanding_more_than_the_budget_is_a_400_naming_the_field(schema: dict[str, Any], param: str) -> None:
    error = refusal(schema)
    assert error.param == param
    assert "more than this model writes (192 tokens" in error.message


@pytest.mark.parametrize(
    "schema",
    [
        one_field(maxLength=20_000),
        {"type": "array", "items": {"type": "integer"}, "maxItems": 1_000_000},
        one_field(minLength=500),
        # Optional and alternative demands cost nothing: the shortest answer omits them.
        {"type": "object", "properties": {"long": {"type": "string", "minLength": 10**6}}},
        {"anyOf": [{"type": "string", "minLength": 10**6}, {"type": "null"}]},
        {"type": ["string", "null"], "minLength": 10**6},
    ],
)
def test_bounds_within_the_budget_are_accepted(schema: dict[str, Any]) -> None:
    check_schema(schema, max_output_tokens=192)


def test_without_a_budget_only_the_shape_is_checked() -> None:
    check_schema_limits(one_field(minLength=2_000_000))


def test_the_grammar_copy_drops_wide_ranges_and_keeps_narrow_ones() -> None:
    schema = {
        "type": "object",
        "properties": {
            "wide": {"type": "string", "minLength": 2, "maxLength": 20_000},
            "narrow": {"type": "string", "minLength": 2, "maxLength": 2 + GRAMMAR_MAX_REPEAT},
            "many": {"type": "array", "items": {"type": "integer"}, "maxItems": 50_000},
            "code": {"type": "string", "pattern": "^[A-Z]{0,5000}$"},
            "short_code": {"type": "string", "pattern": "^[A-Z]{2,3}$"},
            "fixed": {"const": {"maxLength": 99_999}},
        },
    }
    copy = grammar_schema(schema)
    props = copy["properties"]
    assert props["wide"] == {"type": "string", "minLength": 2}
    assert props["narrow"] == schema["properties"]["narrow"]
    assert "maxItems" not in props["many"]
    assert "pattern" not in props["code"]
    assert props["short_code"]["pattern"] == "^[A-Z]{2,3}$"
    assert props["fixed"] == {"const": {"maxLength": 99_999}}  # data, not schema
    assert schema["properties"]["wide"]["maxLength"] == 20_000  # the original is untouched


@pytest.mark.parametrize(
    "schema",
    [
        one_field(maxLength=20_000),
        {"type": "array", "items": {"type": "integer"}, "maxItems": 20_000},
        {"type": "string", "pattern": "^a{0,20000}$"},
        {"type": "array", "items": one_field(maxLength=5_000), "maxItems": 5_000},
    ],
)
def test_grammars_of_huge_bounds_are_flat_and_small(schema: dict[str, Any]) -> None:
    gbnf = schema_to_gbnf(schema)
    assert gbnf_problem(gbnf) is None
    assert len(gbnf) < 5_000


def test_the_grammar_check_counts_groups_but_not_literals() -> None:
    nested = "root ::= " + "(" * (GBNF_MAX_NESTING + 1) + '"x"' + ")?" * (GBNF_MAX_NESTING + 1)
    assert "nested" in (gbnf_problem(nested) or "")
    literal = "root ::= " + json.dumps("(" * 1_000) + " [(((]"
    assert gbnf_problem(literal) is None
    assert "characters" in (gbnf_problem("root ::= " + '"x" ' * 100_000) or "")
