"""Rate limits per key in a moving window: headers on every guarded response, OpenAI's 429."""

from __future__ import annotations

import secrets

import pytest
from api_harness import MakeApp, chat_body
from bench.harness import free_port

from deepcite.api.ratelimit import RequestRateLimiter, async_storage_url
from deepcite.config import ConfigError


async def test_every_guarded_response_carries_rate_limit_headers(make_app: MakeApp) -> None:
    async with make_app(rate_limit="5/minute").client() as client:
        first = await client.post("/v1/chat/completions", json=chat_body())
        second = await client.get("/v1/models")
        error = await client.post("/v1/chat/completions", json={"model": "nope", "messages": []})
    assert first.headers["x-ratelimit-limit-requests"] == "5"
    assert first.headers["x-ratelimit-remaining-requests"] == "4"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    assert second.headers["x-ratelimit-remaining-requests"] == "3"
    assert error.status_code == 400
    assert error.headers["x-ratelimit-remaining-requests"] == "2"


async def test_over_the_limit_is_429_with_retry_after(make_app: MakeApp) -> None:
    sut = make_app(rate_limit="2/minute")
    async with sut.client() as client:
        for _ in range(2):
            assert (await client.post("/v1/chat/completions", json=chat_body())).status_code == 200
        refused = await client.post("/v1/chat/completions", json=chat_body())
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_exceeded"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.json()["error"]["message"].startswith("Rate limit reached for requests")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(sut.engine.requests) == 2


async def test_each_key_has_its_own_budget(make_app: MakeApp) -> None:
    sut = make_app(rate_limit="1/minute", api_keys="key-one,key-two")
    async with sut.client({"x-api-key": "key-one"}) as one, sut.client({"x-api-key": "key-two"}) as two:
        assert (await one.get("/v1/models")).status_code == 200
        assert (await one.get("/v1/models")).status_code == 429
        assert (await two.get("/v1/models")).status_code == 200


async def test_unguarded_routes_are_not_counted(make_app: MakeApp) -> None:
    async with make_app(rate_limit="1/minute").client() as client:
        for _ in range(3):
            response = await client.get("/healthz")
            assert response.status_code == 200
            assert "x-ratelimit-limit-requests" not in response.headers
        assert (await client.get("/v1/models")).status_code == 200


@pytest.mark.redis
async def test_redis_shares_the_limit_between_workers(make_app: MakeApp, redis_url: str) -> None:
    # Two apps stand for two worker processes; the key is fresh so earlier runs do not count.
    key = "key-" + secrets.token_hex(4)
    worker_a = make_app(rate_limit="3/minute", redis_url=redis_url, api_keys=key)
    worker_b = make_app(rate_limit="3/minute", redis_url=redis_url, api_keys=key)
    headers = {"authorization": f"Bearer {key}"}
    async with worker_a.client(headers) as a, worker_b.client(headers) as b:
        assert (await a.get("/v1/models")).headers["x-ratelimit-remaining-requests"] == "2"
        assert (await b.get("/v1/models")).headers["x-ratelimit-remaining-requests"] == "1"
        assert (await a.post("/v1/chat/completions", json=chat_body())).status_code == 200
        refused = await b.post("/v1/chat/completions", json=chat_body())
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_redis_down_is_503_not_500(make_app: MakeApp) -> None:
    sut = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with sut.client() as client:
        response = await client.get("/v1/models")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


def test_storage_urls() -> None:
    assert async_storage_url("") == "async+memory://"
    assert async_storage_url("redis://h:6379/1") == "async+redis://h:6379/1"
    assert async_storage_url("rediss://h:6380") == "async+rediss://h:6380"
    assert async_storage_url("unix:///run/redis.sock") == "async+redis+unix:///run/redis.sock"


def test_unreadable_rate_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        RequestRateLimiter("lots per day")
