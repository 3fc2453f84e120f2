"""API keys: from settings or the key store, as Bearer or x-api-key; open when none exist."""

from __future__ import annotations

import pytest
from api_harness import MakeApp, chat_body

from deepcite.api.auth import auth_required, mask_key

ENV_KEY = "sk-env-0123456789"


async def test_open_when_no_key_is_configured(make_app: MakeApp) -> None:
    sut = make_app()
    assert not auth_required(sut.settings, sut.key_store)
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200


async def test_open_server_ignores_whatever_key_the_sdk_sends(make_app: MakeApp) -> None:
    async with make_app().client({"authorization": "Bearer not-needed"}) as client:
        response = await client.get("/v1/models")
    assert response.status_code == 200


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
async def test_settings_key_is_accepted_in_either_header(make_app: MakeApp, header: str) -> None:
    sut = make_app(api_keys=f"other-key, {ENV_KEY}")
    value = f"Bearer {ENV_KEY}" if header == "authorization" else ENV_KEY
    assert auth_required(sut.settings, sut.key_store)
    async with sut.client({header: value}) as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200


async def test_missing_key_is_401_with_openais_message(make_app: MakeApp) -> None:
    sut = make_app(api_keys=ENV_KEY)
    async with sut.client() as client:
        response = await client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert error["type"] == "invalid_request_error"
    assert sut.engine.requests == []


async def test_wrong_key_is_401_invalid_api_key_and_masked(make_app: MakeApp) -> None:
    wrong = "sk-wrong-abcdefghijklmnop"
    async with make_app(api_keys=ENV_KEY).client({"authorization": f"Bearer {wrong}"}) as client:
        response = await client.get("/v1/models")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith("Incorrect API key provided: sk-")
    assert wrong not in response.text


async def test_keys_from_the_store_work_until_revoked(make_app: MakeApp) -> None:
    sut = make_app()
    key_id, key = sut.key_store.create("ci")
    async with sut.client({"x-api-key": key}) as client:
        assert (await client.get("/v1/models")).status_code == 200
        # A store key closes the formerly open server at once.
        async with sut.client() as anonymous:
            assert (await anonymous.get("/v1/models")).status_code == 401
        assert sut.key_store.revoke(key_id)
        assert (await client.get("/v1/models")).status_code == 401
        # Revoking the last key locks everyone out rather than opening the server.
        async with sut.client() as anonymous:
            assert (await anonymous.get("/v1/models")).status_code == 401


async def test_health_metrics_and_playground_need_no_key(make_app: MakeApp) -> None:
    async with make_app(api_keys=ENV_KEY).client() as client:
        for path in ("/healthz", "/metrics", "/"):
            assert (await client.get(path)).status_code == 200, path


async def test_model_routes_need_a_key(make_app: MakeApp) -> None:
    async with make_app(api_keys=ENV_KEY).client() as client:
        assert (await client.get("/v1/models")).status_code == 401
        assert (await client.get("/v1/models/lite")).status_code == 401


def test_mask_key_keeps_only_the_ends() -> None:
    assert mask_key("dc-abcdefghijklmnopqrstuvwxyz") == "dc-" + "*" * 20 + "wxyz"
    assert mask_key("short") == "*****"
