"""UpstreamModel against a real OpenAI-compatible server: llama-cpp-python's own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from tests.support.multi_hop import PAGES as MULTI_HOP_PAGES
from tests.support.multi_hop import QUESTION as MULTI_HOP_QUESTION

from deepcite.errors import UpstreamError
from deepcite.llm.base import ChatMessage, GenerationOptions
from deepcite.llm.encoder import SentenceEncoder
from deepcite.llm.structured import complete_json
from deepcite.llm.upstream import UpstreamModel
from deepcite.research.engine import ResearchEngine
from deepcite.research.events import Basis, Progress
from deepcite.research.gather import Researcher
from deepcite.research.request import ResearchRequest
from deepcite.search.local_index import LocalIndex

pytestmark = pytest.mark.slow

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
}


@pytest.fixture
async def upstream(llama_server: str) -> AsyncIterator[UpstreamModel]:
    model = UpstreamModel(llama_server, model="smollm2")
    yield model
    await model.aclose()


async def collect(pieces: AsyncIterator[str]) -> list[str]:
    return [piece async for piece in pieces]


async def test_streams_content_deltas(upstream: UpstreamModel) -> None:
    messages = [ChatMessage("user", "Who wrote Hamlet?")]
    pieces = await collect(upstream.stream(messages, GenerationOptions(max_tokens=16)))
    assert len(pieces) > 1
    assert "Shakespeare" in "".join(pieces)


async def test_json_schema_reaches_the_server(upstream: UpstreamModel) -> None:
    messages = [ChatMessage("user", "Name a city and its country, as JSON.")]
    pieces = await collect(upstream.stream(messages, GenerationOptions(max_tokens=60, json_schema=CITY)))
    Draft202012Validator(CITY).validate(json.loads("".join(pieces)))


async def test_complete_json_through_the_upstream(upstream: UpstreamModel) -> None:
    value = await complete_json(upstream, [ChatMessage("user", "Paris, as JSON.")], CITY, max_tokens=60)
    Draft202012Validator(CITY).validate(value)


async def test_an_http_error_carries_the_upstreams_message(llama_server: str) -> None:
    model = UpstreamModel(llama_server.removesuffix("/v1") + "/nowhere")
    try:
        with pytest.raises(UpstreamError) as caught:
            await collect(model.stream([ChatMessage("user", "Hi")], GenerationOptions(max_tokens=4)))
    finally:
        await model.aclose()
    assert "404" in caught.value.message and "Not Found" in caught.value.message


async def test_a_server_that_is_down_is_an_upstream_error(unused_port: int) -> None:
    model = UpstreamModel(f"http://127.0.0.1:{unused_port}/v1")
    try:
        with pytest.raises(UpstreamError) as caught:
            await collect(model.stream([ChatMessage("user", "Hi")], GenerationOptions(max_tokens=4)))
    finally:
        await model.aclose()
    assert "ConnectError" in caught.value.message
    assert caught.value.__cause__ is not None


def test_count_tokens_is_an_estimate() -> None:
    model = UpstreamModel("http://127.0.0.1:1/v1")
    assert model.count_tokens("") == 0
    assert model.count_tokens("abcd" * 10) == 10
    assert model.count_tokens("abcde") == 2


async def test_the_research_loop_runs_the_same_with_an_upstream_model(
    default_model_server: str, embedder: SentenceEncoder, tmp_path: Path
) -> None:
    # The multi-hop corpus: the upstream model plans the next hop, reads and writes, as the embedded one does.
    index = LocalIndex(tmp_path / "index.sqlite3")
    for url, (title, text) in MULTI_HOP_PAGES.items():
        await index.upsert(url, title, text, "test")
    model = UpstreamModel(default_model_server, model="qwen")
    try:
        engine = ResearchEngine(Researcher([index], embedder, model.count_tokens), model)
        events = [e async for e in engine.run(ResearchRequest("core", [ChatMessage("user", MULTI_HOP_QUESTION)]))]
    finally:
        await model.aclose()
        index.close()
    basis = next(e for e in events if isinstance(e, Basis))
    assert "Vellport" in basis.content, basis.content
    assert any(isinstance(e, Progress) and e.stage == "plan" for e in events), "the model was asked for the next hop"
    assert basis.basis[0].citations
