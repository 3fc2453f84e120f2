"""The JSON shapes we answer with: OpenAI's `chat.completion` and `chat.completion.chunk`,
plus Parallel's `basis` and `interaction_id`, plus deepcite's `deepcite` extension field.

Extra top-level fields are tolerated by the openai SDKs (they land in `model_extra`).
"""

from __future__ import annotations

import dataclasses
import secrets
import string
import time
from typing import Any

from deepcite.research.basis import FieldBasis, UrlCitation
from deepcite.research.events import Done, Progress

_ALPHABET = string.ascii_letters + string.digits


def new_completion_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ALPHABET) for _ in range(29))


def usage(done: Done | None) -> dict[str, int]:
    prompt = done.prompt_tokens if done else 0
    completion = done.completion_tokens if done else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclasses.dataclass(frozen=True)
class Completion:
    """Identity shared by the body or every chunk of one answer."""

    model: str
    id: str = dataclasses.field(default_factory=new_completion_id)
    created: int = dataclasses.field(default_factory=lambda: int(time.time()))

    def _envelope(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def body(
        self,
        content: str,
        basis: list[FieldBasis],
        annotations: list[UrlCitation],
        done: Done | None,
    ) -> dict[str, Any]:
        message = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": [a.to_dict() for a in annotations],
        }
        return {
            **self._envelope("chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": done.finish_reason if done else "stop",
                }
            ],
            "usage": usage(done),
            "basis": [b.to_dict() for b in basis],
            "interaction_id": self.id,
        }

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            **self._envelope("chat.completion.chunk"),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            "interaction_id": self.id,
            **extra,
        }

    def progress_chunk(self, progress: Progress) -> dict[str, Any]:
        return self.chunk({}, deepcite={"progress": {"stage": progress.stage, "message": progress.message}})

    def final_chunk(
        self,
        basis: list[FieldBasis],
        annotations: list[UrlCitation],
        done: Done | None,
        replaced_content: str | None = None,
        timing: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {"usage": usage(done), "basis": [b.to_dict() for b in basis]}
        if replaced_content is not None:
            # The streamed text was revised after it was sent; this is the content to keep.
            extra["deepcite"] = {"content": replaced_content}
        if timing is not None:
            # A stream's headers leave first: its Server-Timing (in seconds) comes last, here.
            extra["timing"] = {stage: round(seconds, 4) for stage, seconds in timing.items()}
        return self.chunk(
            {"annotations": [a.to_dict() for a in annotations]},
            finish_reason=done.finish_reason if done else "stop",
            **extra,
        )
