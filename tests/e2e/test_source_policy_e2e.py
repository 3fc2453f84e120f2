"""`source_policy` on chat completions (and Perplexity's aliases): a denied domain is never cited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from e2e_server import RunningServer, launch
from task_client import MIRROR, TaskClient
from tests.search.search_pages import article_html
from tests.support.loopback import Loopback, LoopbackHandler, LoopbackServer, serve_in_thread

QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
BRIDGE = "When did the Zorblatt Bridge open to traffic?"


def _cited(basis: list[dict[str, Any]]) -> set[str]:
    return {c["url"] for b in basis for c in b["citations"]}


def _ask(server: RunningServer, question: str, **extra: Any) -> set[str]:
    response = server.client().chat.completions.create(
        model="lite", messages=[{"role": "user", "content": question}], extra_body=extra
    )
    return _cited((response.model_extra or {})["basis"])


def test_the_local_index_honours_the_policy_and_its_aliases(task_server: RunningServer) -> None:
    mirror_only = _ask(task_server, QUESTION, source_policy={"exclude_domains": ["en.wikipedia.org"]})
    assert mirror_only == {MIRROR}
    no_mirror = _ask(task_server, QUESTION, search_domain_filter=["-mirror.example"])
    assert no_mirror and MIRROR not in no_mirror
    assert _ask(task_server, QUESTION, search_domain_filter=["mirror.example"]) == {MIRROR}
    # Pages of unknown date (the whole index) are kept by a date filter, as for /v1/search.
    chunks = task_server.client().chat.completions.create(
        model="lite", messages=[{"role": "user", "content": QUESTION}], stream=True,
        extra_body={"search_recency_filter": "week"},
    )
    progress = [(c.model_extra or {}).get("deepcite", {}).get("progress", {}) for c in chunks]
    writing = next(p["message"] for p in progress if p.get("stage") == "write")
    assert not writing.startswith("writing from 0 "), writing

    tasks = TaskClient(task_server)
    try:
        run = tasks.submit(QUESTION, source_policy={"exclude_domains": ["mirror.example"]})
        cited = _cited(tasks.result(run["run_id"]).json()["output"]["basis"])
        assert cited and MIRROR not in cited
    finally:
        tasks.close()


class WebSite(Loopback):
    """A SearXNG stand-in answering every query with the same two pages, and the pages themselves."""

    def pages(self) -> dict[str, str]:
        # The same fact at two hosts of this machine: 127.0.0.1 and localhost.
        return {
            f"http://127.0.0.1:{self.port}/bridge": "The Zorblatt Bridge opened to traffic on 4 May 1931.",
            f"http://localhost:{self.port}/bridge": "The Zorblatt Bridge opened to traffic on 4 May 1931, after delays.",
        }


class WebHandler(LoopbackHandler):
    server: LoopbackServer[WebSite]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        site = self.server.state
        path = urlsplit(self.path)
        if path.path == "/search":
            assert parse_qs(path.query)["format"] == ["json"]
            results = [{"url": url, "title": "Zorblatt Bridge", "content": text} for url, text in site.pages().items()]
            self.send_body(200, "application/json", json.dumps({"results": results}).encode())
            return
        host = self.headers["host"].split(":")[0]
        page = site.pages().get(f"http://{host}:{site.port}{path.path}")
        if page is None:
            self.send_error(404)
            return
        html = article_html("Zorblatt Bridge", [page, "The bridge crosses the river Quill in two spans."])
        self.send_body(200, "text/html; charset=utf-8", html.encode())


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[tuple[RunningServer, WebSite]]:
    with serve_in_thread(WebHandler, WebSite) as site:
        running = launch(
            tmp_path, search="searxng", searxng_url=site.base_url, fetch_allow_hosts="127.0.0.1:*,localhost:*",
            seed_sample_corpus="false",
        )
        try:
            yield running, site
        finally:
            running.stop()


def test_a_web_provider_honours_the_policy(web_server: tuple[RunningServer, WebSite]) -> None:
    server, site = web_server
    local, other = list(site.pages())
    assert _ask(server, BRIDGE) <= {local, other}
    # Each page alone is cited once the other is denied: both were readable, the policy chose.
    assert _ask(server, BRIDGE, source_policy={"exclude_domains": ["localhost"]}) == {local}
    assert _ask(server, BRIDGE, search_domain_filter=["-127.0.0.1"]) == {other}
