"""Fixtures of the end-to-end tests: a real server and the corpus it was seeded with."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources

import pytest
from bench.harness import run_cli
from e2e_server import API_KEY, RunningServer, launch
from task_client import MIRROR, OTHER_KEY, TASK_WORKERS


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = launch(tmp_path_factory.mktemp("home"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def task_server(tmp_path_factory: pytest.TempPathFactory, corpus_pages: dict[str, str]) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("tasks")
    # The sample corpus and a copy of one of its pages on another domain, for the source-policy tests.
    mirror = home / "mirror.jsonl"
    page = {"url": MIRROR, "title": "Super Bowl 50 (mirror)", "text": mirror_text(corpus_pages)}
    mirror.write_text(json.dumps(page) + "\n")
    with resources.as_file(resources.files("deepcite").joinpath("data/sample_corpus.jsonl.gz")) as corpus:
        run_cli(home, "index", str(corpus), str(mirror))
    # The tests poll often: the rate limit is not what they test.
    running = launch(
        home,
        api_keys=f"{API_KEY},{OTHER_KEY}",
        task_workers=str(TASK_WORKERS),
        rate_limit="100000/minute",
        fetch_allow_hosts="127.0.0.1:*",  # the webhook receiver of test_webhooks_e2e, on any port
    )
    yield running
    running.stop()


def mirror_text(corpus_pages: dict[str, str]) -> str:
    return corpus_pages["https://en.wikipedia.org/wiki/Super_Bowl_50"][:4000]


@pytest.fixture(scope="session")
def task_pages(corpus_pages: dict[str, str]) -> dict[str, str]:
    """url -> text of every page in the task server's index: the corpus and the mirror page."""
    return {**corpus_pages, MIRROR: mirror_text(corpus_pages)}


@pytest.fixture(scope="session")
def corpus_pages() -> dict[str, str]:
    """url -> text of every page of the bundled sample corpus, to check excerpts verbatim."""
    data = resources.files("deepcite").joinpath("data/sample_corpus.jsonl.gz").read_bytes()
    pages = {}
    for line in gzip.decompress(data).decode().splitlines():
        record = json.loads(line)
        pages[record["url"]] = record["text"]
    return pages
