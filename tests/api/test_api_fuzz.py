"""Fuzzing the edge: any JSON value in any field is a 2xx or a 4xx in OpenAI's envelope.

Two fuzzers, kept to a few hundred examples so the suite stays quick: hypothesis
puts arbitrary JSON (lone surrogates, huge and non-finite numbers, deep nesting)
into each field of otherwise valid bodies, and schemathesis drives every operation
of the OpenAPI document, whose request bodies it reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from api_harness import ScriptedEngine
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from starlette.testclient import TestClient

from deepcite.api.app import create_app
from deepcite.config import Settings
from deepcite.fetch.fetcher import Fetcher
from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.search_service import SearchService
from deepcite.search.local_index import LocalIndex
from deepcite.store.keys import KeyStore

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)

# Text a JSON encoder can carry but UTF-8 cannot: lone surrogates among ordinary characters.
texts = st.text(st.characters(codec="utf-8") | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=30)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**120), max_value=10**120)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)


class RawJson(str):
    """JSON text put in the body as it is: what no encoder of ours would write."""


# Python's own limits, past them and around them: digits, nesting, non-finite numbers.
hostile = st.sampled_from([
    RawJson("9" * 5_000), RawJson("-" + "1" * 4_301), RawJson("1." + "0" * 3_000), RawJson("1e999"),
    RawJson("NaN"), RawJson("-Infinity"), RawJson('"\\ud800"'), RawJson('{"\\udfff": 1}'),
]) | st.integers(min_value=60, max_value=2_500).map(lambda n: RawJson("[" * n + "]" * n))
json_values = st.recursive(
    scalars | hostile,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=25,
)

VALID_CHAT: dict[str, Any] = {
    "model": "speed",
    "messages": [{"role": "user", "content": "What is the capital of France?"}],
    "stream": False,
    "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
}
CHAT_FIELDS = [
    ("model",), ("messages",), ("messages", 0), ("messages", 0, "role"), ("messages", 0, "content"),
    ("messages", 0, "name"), ("stream",), ("response_format",), ("response_format", "type"),
    ("response_format", "json_schema"), ("response_format", "json_schema", "schema"),
    ("response_format", "json_schema", "schema", "properties"), ("response_format", "json_schema", "strict"),
    ("temperature",), ("anything_else",),
]
VALID_SEARCH: dict[str, Any] = {"objective": "capital of France", "search_queries": ["paris"], "max_results": 3,
                                "source_policy": {"include_domains": ["example.org"]}}
SEARCH_FIELDS = [("objective",), ("search_queries",), ("search_queries", 0), ("max_results",), ("source_policy",),
                 ("source_policy", "after_date"), ("excerpts",)]
VALID_EXTRACT: dict[str, Any] = {"urls": ["http://no-such-host.invalid/a"], "excerpts": True, "full_content": False}
EXTRACT_FIELDS = [("urls",), ("urls", 0), ("excerpts",), ("full_content",), ("objective",)]


def dumps(value: Any) -> str:
    """JSON text of `value`, `RawJson` pieces verbatim, lone surrogates as `\\uXXXX` escapes."""
    if isinstance(value, RawJson):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))  # the valid body is plain JSON; `value` goes in as it is
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return dict(copy)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceEncoder) -> Iterator[FastAPI]:
    """The real app, real search service on an empty index, and the scripted engine: open, unthrottled."""
    home: Path = tmp_path_factory.mktemp("fuzz")
    config = Settings(home=home, rate_limit="1000000/minute", auth_failure_limit="1000000/minute", fetch_timeout=1.0)
    index = LocalIndex(config.index_path)
    fetcher = Fetcher(config)
    service = SearchService([index], embedder, index=index, reader=fetcher)
    yield create_app(config, ScriptedEngine(), KeyStore(config.state_path), search=service)
    index.close()


def check_answer(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def post(app: FastAPI, path: str, body: Any) -> Any:
    payload = dumps(body).encode()
    with TestClient(app, raise_server_exceptions=False) as client:
        return client.post(path, content=payload, headers={"content-type": "application/json"})


@FUZZ
@given(field=st.sampled_from(CHAT_FIELDS), value=json_values)
def test_any_value_in_any_chat_field_is_answered_or_refused_cleanly(fuzz_app: FastAPI, field: Any, value: Any) -> None:
    check_answer(post(fuzz_app, "/v1/chat/completions", with_value(VALID_CHAT, field, value)))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
@given(
    route=st.sampled_from([("/v1/search", VALID_SEARCH, SEARCH_FIELDS), ("/v1/extract", VALID_EXTRACT, EXTRACT_FIELDS)]),
    data=st.data(),
)
def test_any_value_in_any_search_or_extract_field_is_answered_or_refused_cleanly(
    fuzz_app: FastAPI, route: Any, data: st.DataObject
) -> None:
    path, valid, fields = route
    body = with_value(valid, data.draw(st.sampled_from(fields)), data.draw(json_values))
    check_answer(post(fuzz_app, path, body))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
@given(body=json_values)
def test_any_json_body_is_answered_or_refused_cleanly(fuzz_app: FastAPI, body: Any) -> None:
    for path in ("/v1/chat/completions", "/v1/search", "/v1/extract"):
        check_answer(post(fuzz_app, path, body))


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_of_the_openapi_document(fuzz_app: FastAPI) -> None:
    # Driven by hand rather than by schemathesis' pytest plugin, which predates pytest 9.
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    # This app is built without a task store: its task routes answer 503 by design, and the
    # task API's own input is tested against a real server in tests/e2e/test_tasks_e2e.py.
    operations = [op for op in (result.ok() for result in schema.get_all_operations())
                  if not op.path.startswith("/v1/tasks")]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/search", "/v1/extract", "/healthz"}
    for operation in operations:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call()
            case.validate_response(response, checks=CHECKS)
            check_answer(response)

        call()
