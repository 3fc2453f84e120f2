"""Fixtures for search tests: a web site on a loopback port, and the sample corpus indexed once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from search_pages import Site

from deepcite.search.indexer import seed_sample_corpus
from deepcite.search.local_index import LocalIndex


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
        thread.join()


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
