"""Models, health, metrics and the playground page."""

from __future__ import annotations

import re

from api_harness import MakeApp, chat_body


async def test_models_are_listed_in_openais_shape(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.get("/v1/models")
    assert response.status_code == 200
    listing = response.json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["speed", "lite", "base", "core"]
    for model in listing["data"]:
        assert model["object"] == "model"
        assert model["owned_by"] == "deepcite"
        assert isinstance(model["created"], int)


async def test_one_model_is_retrieved_or_404(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        found = await client.get("/v1/models/core")
        missing = await client.get("/v1/models/gpt-4o")
    assert found.json()["id"] == "core"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    assert "x-ratelimit-limit-requests" in missing.headers


async def test_healthz(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "models": ["speed", "lite", "base", "core"]}


async def test_metrics_count_requests_by_route_template_and_status(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        await client.post("/v1/chat/completions", json=chat_body())
        await client.post("/v1/chat/completions", json=chat_body() | {"model": "nope"})
        await client.get("/v1/models/lite")
        await client.get("/v1/models/speed")
        await client.get("/no/such/page")
        response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'deepcite_http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1.0' in text
    assert 'deepcite_http_requests_total{method="POST",route="/v1/chat/completions",status="404"} 1.0' in text
    assert 'deepcite_http_requests_total{method="GET",route="/v1/models/{model_id}",status="200"} 2.0' in text
    assert 'deepcite_http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert re.search(
        r'deepcite_http_request_duration_seconds_count\{method="POST",route="/v1/chat/completions"\} 2\.0', text
    )


async def test_each_app_has_its_own_registry(make_app: MakeApp) -> None:
    async with make_app().client() as first:
        await first.get("/healthz")
    async with make_app().client() as second:
        text = (await second.get("/metrics")).text
    assert 'route="/healthz"' not in text


async def test_playground_is_one_self_contained_page(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "/v1/chat/completions" in page and "getReader" in page  # streams with fetch
    assert "basis" in page
    # No external assets: nothing is loaded from another origin.
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', page)
