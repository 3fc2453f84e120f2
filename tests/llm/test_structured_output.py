"""check_schema, extract_json and the retry / repair loop of complete_json."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from deepcite.errors import InvalidRequestError, StructuredOutputError
from deepcite.llm.base import ChatMessage, GenerationOptions
from deepcite.llm.structured import check_schema, complete_json, extract_json

ANSWER = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["answer", "year"],
    "additionalProperties": False,
}


class ScriptedModel:
    """A ChatModel that replies from a script and records what it was asked."""

    name = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[ChatMessage], GenerationOptions]] = []

    async def stream(self, messages: list[ChatMessage], options: GenerationOptions) -> AsyncGenerator[str, None]:
        self.calls.append((list(messages), options))
        reply = self.replies.pop(0)
        for start in range(0, len(reply), 7):
            yield reply[start : start + 7]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_check_schema_rejects_an_unknown_type() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_schema({"type": "nope"})
    assert caught.value.param == "response_format"
    assert "not a valid JSON Schema" in caught.value.message
    assert "'nope'" in caught.value.message


@pytest.mark.parametrize(
    "schema",
    [
        ["not", "an", "object"],
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
        {"$ref": "https://example.com/schema.json"},
        {"type": "object", "required": "answer"},
    ],
)
def test_check_schema_rejects_what_we_cannot_honour(schema: Any) -> None:
    with pytest.raises(InvalidRequestError):
        check_schema(schema)


def test_check_schema_accepts_real_schemas() -> None:
    check_schema(ANSWER)
    check_schema({"$defs": {"x": {"type": "string"}}, "items": {"$ref": "#/$defs/x"}, "type": "array"})
    check_schema({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {}, "type": "object"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('Sure! Here it is: {"a": "b"} Hope this helps.', {"a": "b"}),
        ('{"answer": "The tower is 33', {"answer": "The tower is 33"}),
        ('{"a": 1, "b": [1, 2,', {"a": 1, "b": [1, 2]}),
        ('{"a": {"b": true, "c"', {"a": {"b": True}}),
        ('[{"x": "y\\', [{"x": "y"}]),
        ('[{"x": "y\\"', [{"x": 'y"'}]),
    ],
)
def test_extract_json_reads_chatty_and_truncated_replies(text: str, value: Any) -> None:
    assert extract_json(text) == value


def test_extract_json_refuses_prose() -> None:
    with pytest.raises(ValueError):
        extract_json("I do not know.")


async def test_a_valid_first_reply_is_returned_with_the_schema_sent_along() -> None:
    model = ScriptedModel('{"answer": "1889", "year": 1889}')
    value = await complete_json(model, [ChatMessage("user", "When?")], ANSWER, max_tokens=50)
    assert value == {"answer": "1889", "year": 1889}
    (_, options), = model.calls
    assert options.json_schema == ANSWER and options.max_tokens == 50


async def test_an_invalid_reply_is_retried_with_the_error_in_the_conversation() -> None:
    model = ScriptedModel('{"answer": "1889"}', '{"answer": "1889", "year": 1889}')
    value = await complete_json(model, [ChatMessage("user", "When?")], ANSWER, max_tokens=50)
    assert value == {"answer": "1889", "year": 1889}
    retry_messages, _ = model.calls[1]
    assert retry_messages[-2] == ChatMessage("assistant", '{"answer": "1889"}')
    assert retry_messages[-1].role == "user" and "'year' is a required property" in retry_messages[-1].content


async def test_the_last_resort_is_a_repair_of_the_best_attempt() -> None:
    model = ScriptedModel("no JSON here", '{"answer": 1889, "extra": 1}', "still no JSON")
    value = await complete_json(model, [ChatMessage("user", "When?")], ANSWER, max_tokens=50, retries=2)
    assert value == {"answer": "1889", "year": 0}
    assert len(model.calls) == 3


async def test_no_json_at_all_is_an_error() -> None:
    model = ScriptedModel("no", "still no")
    with pytest.raises(StructuredOutputError):
        await complete_json(model, [ChatMessage("user", "When?")], ANSWER, max_tokens=50, retries=1)


async def test_an_invalid_schema_fails_before_generating() -> None:
    model = ScriptedModel(json.dumps({"answer": "x"}))
    with pytest.raises(InvalidRequestError):
        await complete_json(model, [ChatMessage("user", "When?")], {"type": "nope"}, max_tokens=50)
    assert model.calls == []
