"""The Chat Completions request as we read it, and its translation to a `ResearchRequest`.

Honoured: `model`, `messages`, `stream`, `response_format`, `previous_interaction_id`,
`source_policy` (and Perplexity's `search_domain_filter`, `search_recency_filter`). Every other field of
OpenAI's request (`temperature`, `tools`, `max_tokens`, ... see Parallel's "Ignored"
table) is accepted and ignored: models allow extra fields, so nothing unknown fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError

from deepcite.api.errors import validation_error
from deepcite.api.limits import MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_NAME_CHARS
from deepcite.api.search_extract import SourcePolicyBody
from deepcite.errors import InvalidRequestError, ModelNotFoundError
from deepcite.llm.base import ChatMessage, Role
from deepcite.llm.structured import check_schema
from deepcite.research.profiles import PROFILES
from deepcite.research.request import ResearchRequest
from deepcite.search.policy import Recency, combined_policy

JSON_OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}


def _content_text(value: Any) -> str:
    """A message's text: a string, or the text parts of a content array joined (others ignored)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts: list[str] = []
        for part in value:
            if not isinstance(part, dict):
                raise PydanticCustomError("content_part", "content parts must be objects")
            if part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise PydanticCustomError("content_part", "a text content part needs a string 'text'")
                texts.append(text)
        return "\n".join(texts)
    raise PydanticCustomError("content_type", "content must be a string or an array of content parts")


MessageContent = Annotated[
    str,
    # What clients send, for the OpenAPI document: a string or content parts.
    BeforeValidator(_content_text, json_schema_input_type=str | list[dict[str, Any]] | None),
    StringConstraints(max_length=MAX_MESSAGE_CHARS),
]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Message(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: MessageContent = ""
    name: Name | None = None


class TextFormat(_Lenient):
    type: Literal["text"]


class JsonObjectFormat(_Lenient):
    type: Literal["json_object"]


class JsonSchemaSpec(_Lenient):
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)] | None = None
    # `schema` would shadow a BaseModel attribute, hence the alias.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: StrictBool | None = None


class JsonSchemaFormat(_Lenient):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


class ChatCompletionRequest(_Lenient):
    model: Name
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    # Strict, as OpenAI's: "yes" or 1 is a 400, not a stream.
    stream: StrictBool | None = False
    response_format: ResponseFormat | None = None
    # Parallel's: continue the conversation of an earlier answer (its `interaction_id`).
    previous_interaction_id: str | None = None
    # deepcite's extension (the openai SDK sends it through `extra_body`), and Perplexity's aliases.
    source_policy: SourcePolicyBody | None = None
    search_domain_filter: list[str] | None = None
    search_recency_filter: Recency | None = None


_FORMAT_TAGS = {"text", "json_object", "json_schema"}


def _field_location(location: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Pydantic names the matched union member in the path (`response_format.json_schema.json_schema`);
    # clients expect the field path only.
    if len(location) > 1 and location[0] == "response_format" and location[1] in _FORMAT_TAGS:
        return location[:1] + location[2:]
    return location


def parse_chat_request(data: Any) -> ChatCompletionRequest:
    """Validate a decoded JSON body; a 400 naming the first bad field (`messages.0.content`)."""
    if not isinstance(data, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": _field_location(e["loc"])} for e in exc.errors()]
        raise validation_error(errors) from exc


def json_answer_tokens(model: str) -> int | None:
    """Most tokens the engine lets a model write for a JSON answer of this profile."""
    profile = PROFILES.get(model)
    # Twice the text budget: see `ResearchEngine._write_json`.
    return profile.answer_tokens * 2 if profile is not None else None


def requested_schema(
    response_format: TextFormat | JsonObjectFormat | JsonSchemaFormat | None,
    *,
    max_output_tokens: int | None = None,
) -> dict[str, Any] | None:
    if response_format is None or isinstance(response_format, TextFormat):
        return None
    if isinstance(response_format, JsonObjectFormat):
        return dict(JSON_OBJECT_SCHEMA)
    schema = response_format.json_schema.schema_
    if schema is None:
        return dict(JSON_OBJECT_SCHEMA)
    # A 400 when it is not a JSON Schema, or one we cannot honour within the budget.
    check_schema(schema, max_output_tokens=max_output_tokens)
    return schema


_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def conversation(messages: Sequence[Message]) -> list[ChatMessage]:
    """The turns the engine reads: developer → system, tool results dropped, empty turns dropped."""
    turns = [ChatMessage(role=_ROLES[m.role], content=m.content) for m in messages if m.role in _ROLES and m.content.strip()]
    if not any(turn.role == "user" for turn in turns):
        raise InvalidRequestError("messages must contain at least one user message with text.", param="messages")
    return turns


def model_not_found(model: str) -> ModelNotFoundError:
    return ModelNotFoundError(f"The model `{model}` does not exist or you do not have access to it.", param="model")


def to_research_request(
    request: ChatCompletionRequest, models: Sequence[str], *, max_question_tokens: int | None = None
) -> ResearchRequest:
    if request.model not in models:
        raise model_not_found(request.model)
    policy = request.source_policy or SourcePolicyBody()
    turns = conversation(request.messages)
    if max_question_tokens is not None:
        check_question_length(request.messages, max_question_tokens)
    return ResearchRequest(
        model=request.model,
        messages=turns,
        json_schema=requested_schema(request.response_format, max_output_tokens=json_answer_tokens(request.model)),
        source_policy=combined_policy(
            policy.include_domains or (),
            policy.exclude_domains or (),
            policy.after_date,
            domain_filter=request.search_domain_filter or (),
            recency=request.search_recency_filter,
        ),
    )


def check_question_length(messages: Sequence[Message], max_tokens: int) -> None:
    """A 400 on the last user message (the question) when it is longer than `max_tokens`."""
    index = next(i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user" and messages[i].content.strip())
    if tokens_at_least(messages[index].content, max_tokens + 1) > max_tokens:
        raise InvalidRequestError(
            f"The question (messages.{index}.content) is longer than {max_tokens} tokens; "
            "ask a shorter question, or put background in earlier messages.",
            param=f"messages.{index}.content",
            code="question_too_long",
        )


# BPE tokenizers split text at words and punctuation before merging, and none of
# theirs has word tokens this long: counting pieces so never counts too many.
_PIECE = re.compile(r"\w+|[^\w\s]")
_MAX_TOKEN_CHARS = 32


def tokens_at_least(text: str, stop_at: int) -> int:
    """A lower bound of the tokens of `text` in any BPE tokenizer, counted up to `stop_at`."""
    count = 0
    for piece in _PIECE.finditer(text):
        count += -(-len(piece.group()) // _MAX_TOKEN_CHARS)
        if count >= stop_at:
            break
    return count
