"""Model files come from pinned wheels, are joined once and are hash-checked before llama.cpp opens them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deepcite.config import ConfigError
from deepcite.errors import ServiceUnavailableError
from deepcite.llm.embedded import EmbeddedModel
from deepcite.llm.model_files import MODEL_FILES

SMALL_QWEN = MODEL_FILES["qwen2.5-coder-0.5b"]


def test_chunks_are_joined_in_order_into_the_pinned_file(tmp_path: Path) -> None:
    path = SMALL_QWEN.path(tmp_path)  # joins, then checks the sha256 of the whole file
    assert path.parent == tmp_path and path.stat().st_size == SMALL_QWEN.size
    assert not list(tmp_path.glob("*.partial-*")), "no half-written file is left behind"
    joined_at = path.stat().st_mtime_ns
    assert SMALL_QWEN.path(tmp_path) == path
    assert path.stat().st_mtime_ns == joined_at, "joined once: the second call only verifies"


def test_a_model_file_whose_hash_does_not_match_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    # Right name and size, wrong bytes: what a truncated-then-padded or tampered file looks like.
    with (tmp_path / f"{SMALL_QWEN.name}.gguf").open("wb") as forged:
        forged.truncate(SMALL_QWEN.size)
    model = EmbeddedModel(model=SMALL_QWEN.name, cache_dir=tmp_path)
    with pytest.raises(ServiceUnavailableError, match="does not match the pinned sha256"):
        asyncio.run(model.load())


def test_an_unknown_model_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="qwen2.5-coder-1.5b"):
        EmbeddedModel(model="gpt-5")
