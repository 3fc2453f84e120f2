"""build_chat_model picks the model the settings ask for, without loading it."""

from __future__ import annotations

from deepcite.config import Settings
from deepcite.llm.embedded import EmbeddedModel
from deepcite.llm.registry import build_chat_model
from deepcite.llm.upstream import UpstreamModel


def test_no_upstream_means_the_embedded_model() -> None:
    model = build_chat_model(Settings(llm_threads=3, llm_context=1024))
    assert isinstance(model, EmbeddedModel)
    assert (model.threads, model.context) == (3, 1024)


async def test_an_upstream_url_means_the_upstream_model() -> None:
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1/", llm_model="m", llm_api_key="k")
    model = build_chat_model(settings)
    assert isinstance(model, UpstreamModel)
    assert (model.base_url, model.name) == ("http://127.0.0.1:9/v1", "m")
    await model.aclose()
