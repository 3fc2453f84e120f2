"""The Chat Completions request as we read it, and its translation to a `ResearchRequest`.

Honoured: `model`, `messages`, `stream`, `response_format`, `previous_interaction_id`,
`source_policy` (and Perplexity's `search_domain_filter`, `search_recency_filter`). Every other field of
OpenAI's request (`temperature`, `tools`, `max_tokens`, ... see Parallel's "Ignored"
table) is accepted and ignored: models allow extra fields, so nothing unknown fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from deepcite.api.errors import validation_error
from deepcite.api.search_extract import SourcePolicyBody
from deepcite.errors import InvalidRequestError, ModelNotFoundError
from deepcite.llm.base import ChatMessage, Role
from deepcite.llm.structured import check_schema
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


MessageContent = Annotated[str, BeforeValidator(_content_text)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Message(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: MessageContent = ""
    name: str | None = None


class TextFormat(_Lenient):
    type: Literal["text"]


class JsonObjectFormat(_Lenient):
    type: Literal["json_object"]


class JsonSchemaSpec(_Lenient):
    name: str | None = None
    description: str | None = None
    # `schema` would shadow a BaseModel attribute, hence the alias.
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(_Lenient):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


class ChatCompletionRequest(_Lenient):
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = False
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


def requested_schema(
    response_format: TextFormat | JsonObjectFormat | JsonSchemaFormat | None,
) -> dict[str, Any] | None:
    if response_format is None or isinstance(response_format, TextFormat):
        return None
    if isinstance(response_format, JsonObjectFormat):
        return dict(JSON_OBJECT_SCHEMA)
    schema = response_format.json_schema.schema_
    if schema is None:
        return dict(JSON_OBJECT_SCHEMA)
    check_schema(schema)  # a 400 on `response_format` when it is not a JSON Schema
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


def to_research_request(request: ChatCompletionRequest, models: Sequence[str]) -> ResearchRequest:
    if request.model not in models:
        raise model_not_found(request.model)
    policy = request.source_policy or SourcePolicyBody()
    return ResearchRequest(
        model=request.model,
        messages=conversation(request.messages),
        json_schema=requested_schema(request.response_format),
        source_policy=combined_policy(
            policy.include_domains or (),
            policy.exclude_domains or (),
            policy.after_date,
            domain_filter=request.search_domain_filter or (),
            recency=request.search_recency_filter,
        ),
    )
