"""Failed authentications are limited per client address; secrets stay out of the access log."""

from __future__ import annotations

import logging

import httpx
import pytest
from api_harness import AppUnderTest, MakeApp

from deepcite.api.access_log import RedactSecrets, redact

KEY = "sk-right-0123456789"


def client_from(sut: AppUnderTest, address: str, key: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=sut.app, client=(address, 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers={"authorization": f"Bearer {key}"})


async def test_sixty_wrong_keys_meet_a_429_after_the_limit(make_app: MakeApp) -> None:
    sut = make_app(api_keys=KEY)
    async with client_from(sut, "198.51.100.1", "sk-wrong-guess-000") as client:
        statuses = [(await client.get("/v1/models")).status_code for _ in range(60)]
    assert statuses == [401] * 10 + [429] * 50


async def test_a_blocked_address_is_refused_before_its_key_is_checked(make_app: MakeApp) -> None:
    sut = make_app(api_keys=KEY, auth_failure_limit="3/minute")
    async with client_from(sut, "198.51.100.2", "sk-wrong-guess-000") as guesser:
        for _ in range(3):
            assert (await guesser.get("/v1/models")).status_code == 401
        refused = await guesser.get("/v1/models")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "failed authentications" in refused.json()["error"]["message"]
    # Even the right key waits from that address (a guess that hits is not told so) ...
    async with client_from(sut, "198.51.100.2", KEY) as same_address:
        assert (await same_address.get("/v1/models")).status_code == 429
    # ... while other addresses are untouched.
    async with client_from(sut, "198.51.100.3", KEY) as other:
        assert (await other.get("/v1/models")).status_code == 200


async def test_missing_keys_count_as_failures_too(make_app: MakeApp) -> None:
    sut = make_app(api_keys=KEY, auth_failure_limit="2/minute")
    async with sut.client() as client:
        statuses = [(await client.get("/v1/models")).status_code for _ in range(4)]
    assert statuses == [401, 401, 429, 429]


async def test_successful_authentications_are_not_counted(make_app: MakeApp) -> None:
    sut = make_app(api_keys=KEY, auth_failure_limit="2/minute")
    async with client_from(sut, "198.51.100.4", KEY) as client:
        statuses = [(await client.get("/v1/models")).status_code for _ in range(20)]
    assert set(statuses) == {200}


@pytest.mark.redis
async def test_failures_are_shared_across_workers_through_redis(make_app: MakeApp, redis_url: str) -> None:
    first = make_app(api_keys=KEY, auth_failure_limit="4/minute", redis_url=redis_url)
    second = make_app(api_keys=KEY, auth_failure_limit="4/minute", redis_url=redis_url)
    statuses = []
    for sut in (first, second, first, second, first):
        async with client_from(sut, "198.51.100.9", "sk-wrong-guess-000") as client:
            statuses.append((await client.get("/v1/models")).status_code)
    assert statuses == [401, 401, 401, 401, 429]


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        ("GET /v1/models?api_key=sk-secret HTTP/1.1", "GET /v1/models?api_key=[redacted] HTTP/1.1"),
        ("/v1/models?x=1&API-KEY=sk&token=t#f", "/v1/models?x=1&API-KEY=[redacted]&token=[redacted]#f"),
        ("/v1/search?key=abc&q=monkey=1", "/v1/search?key=[redacted]&q=monkey=1"),
        ("/v1/models?keyboard=1", "/v1/models?keyboard=1"),
    ],
)
def test_credentials_in_query_strings_are_redacted(line: str, redacted: str) -> None:
    assert redact(line) == redacted


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/models?api_key=sk-secret", "1.1", 401), None,
    )
    assert RedactSecrets().filter(record)
    assert "sk-secret" not in record.getMessage()
    assert "api_key=[redacted]" in record.getMessage()
