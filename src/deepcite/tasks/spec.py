"""What a task run asks for, as stored with the run and read back by whichever worker runs it.

A `RunSpec` is plain data (it round-trips through JSON), so a run queued in SQLite or
Redis carries everything needed to run it after a restart or on another machine.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, Literal

from deepcite.llm.base import ChatMessage
from deepcite.research.request import ResearchRequest
from deepcite.search.policy import SourcePolicy

OutputType = Literal["text", "json"]
PROCESSORS = ("lite", "base", "core")

# `auto` lets the processor choose the fields (Parallel's words); ours are few, so a
# small model can fill them and each gets its own basis entry.
AUTO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "description": "The answer to the research question, in a few sentences."},
        "key_facts": {
            "type": "array",
            "description": "The facts the answer rests on, one short sentence each.",
            "items": {"type": "string"},
            "maxItems": 5,
        },
    },
    "required": ["answer", "key_facts"],
    "additionalProperties": False,
}


@dataclasses.dataclass(frozen=True)
class RunSpec:
    processor: str
    question: str
    output_type: OutputType = "text"
    json_schema: dict[str, Any] | None = None
    # What the caller said about the output (a text schema's description); shown to the writer.
    instructions: str = ""
    source_policy: SourcePolicy = SourcePolicy()
    # Earlier turns of the interaction this run continues, oldest first.
    history: tuple[ChatMessage, ...] = ()

    def research_request(self) -> ResearchRequest:
        messages = [ChatMessage("system", self.instructions)] if self.instructions else []
        messages += [*self.history, ChatMessage("user", self.question)]
        policy = None if self.source_policy == SourcePolicy() else self.source_policy
        return ResearchRequest(
            model=self.processor, messages=messages, json_schema=self.json_schema, source_policy=policy
        )

    def to_json(self) -> str:
        policy = self.source_policy
        return json.dumps(
            {
                "processor": self.processor,
                "question": self.question,
                "output_type": self.output_type,
                "json_schema": self.json_schema,
                "instructions": self.instructions,
                "source_policy": {
                    "include_domains": list(policy.include_domains),
                    "exclude_domains": list(policy.exclude_domains),
                    "after_date": policy.after_date.isoformat() if policy.after_date else None,
                },
                "history": [{"role": m.role, "content": m.content} for m in self.history],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        data = json.loads(text)
        policy = data.get("source_policy") or {}
        after = policy.get("after_date")
        return cls(
            processor=data["processor"],
            question=data["question"],
            output_type=data.get("output_type", "text"),
            json_schema=data.get("json_schema"),
            instructions=data.get("instructions", ""),
            source_policy=SourcePolicy.of(
                policy.get("include_domains") or (),
                policy.get("exclude_domains") or (),
                datetime.date.fromisoformat(after) if after else None,
            ),
            history=tuple(ChatMessage(m["role"], m["content"]) for m in data.get("history") or ()),
        )


def input_text(value: str | dict[str, Any]) -> str:
    """A task's input as the question the engine researches: text as is, an object as `key: value` lines."""
    if isinstance(value, str):
        return value.strip()
    lines = []
    for key, item in value.items():
        shown = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        lines.append(f"{key}: {shown}")
    return "\n".join(lines).strip()
