"""Fixtures of the end-to-end tests: a real server and the corpus it was seeded with."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources

import pytest
from e2e_server import RunningServer, launch


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = launch(tmp_path_factory.mktemp("home"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def corpus_pages() -> dict[str, str]:
    """url -> text of every page of the bundled sample corpus, to check excerpts verbatim."""
    data = resources.files("deepcite").joinpath("data/sample_corpus.jsonl.gz").read_bytes()
    pages = {}
    for line in gzip.decompress(data).decode().splitlines():
        record = json.loads(line)
        pages[record["url"]] = record["text"]
    return pages
