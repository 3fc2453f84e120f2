"""Fixtures for search tests: a web site on a loopback port, an empty index, and the sample corpus indexed once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from search_pages import Site, serve_site

from deepcite.search.indexer import seed_sample_corpus
from deepcite.search.local_index import LocalIndex


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[LocalIndex]:
    opened = await LocalIndex.open(tmp_path / "index.sqlite3")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def sample_index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index file holding the bundled sample corpus (48 SQuAD articles), built once per module."""
    path = tmp_path_factory.mktemp("sample") / "index.sqlite3"

    async def build() -> None:
        async with await LocalIndex.open(path) as index:
            report = await seed_sample_corpus(index)
            assert report is not None and report.added == 48, report

    asyncio.run(build())
    return path
