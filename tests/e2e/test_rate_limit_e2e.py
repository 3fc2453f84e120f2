"""The per-key rate limit, in memory and shared through a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from e2e_server import RunningServer, launch

LIMIT = 3


@pytest.fixture(params=["memory", "redis"])
def limited_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    env = {"rate_limit": f"{LIMIT}/minute"}
    if request.param == "redis":
        env["redis_url"] = request.getfixturevalue("redis_url")
    running = launch(tmp_path, **env)
    yield running
    running.stop()


def test_rate_limit_is_enforced_and_reported(limited_server: RunningServer) -> None:
    client = limited_server.client()
    first = client.chat.completions.with_raw_response.create(
        model="speed", messages=[{"role": "user", "content": "Where was Super Bowl 50 played?"}]
    )
    assert first.headers["x-ratelimit-limit-requests"] == str(LIMIT)
    assert first.headers["x-ratelimit-remaining-requests"] == str(LIMIT - 1)
    for _ in range(LIMIT - 1):
        client.models.list()
    with pytest.raises(openai.RateLimitError) as refused:
        client.models.list()
    response = refused.value.response
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.value.code == "rate_limit_exceeded"
