"""Choose the chat model from settings: an upstream server when configured, else embedded."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from deepcite.config import Settings
from deepcite.llm.base import ChatModel
from deepcite.llm.embedded import EmbeddedModel
from deepcite.llm.upstream import UpstreamModel

ChatModelFactory = Callable[[Settings], ChatModel]

CHAT_MODELS: Mapping[str, ChatModelFactory] = {
    "embedded": EmbeddedModel.from_settings,
    "upstream": UpstreamModel.from_settings,
}


def chat_model_kind(settings: Settings) -> str:
    """Which entry of `CHAT_MODELS` the settings select."""
    return "upstream" if settings.llm_base_url else "embedded"


def build_chat_model(settings: Settings) -> ChatModel:
    """The chat model the settings ask for; nothing is loaded or connected yet."""
    return CHAT_MODELS[chat_model_kind(settings)](settings)
