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


async def test_playground_is_served_with_its_own_assets_only(make_app: MakeApp) -> None:
    async with make_app().client() as client:
        response = await client.get("/")
        page = response.text
        assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
        served = {path: await client.get(path) for path in assets}
        icon = await client.get("/favicon.ico")
        missing = await client.get("/static/nope.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # No script but the page's own file may run, whatever text reaches the DOM.
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert sorted(assets) == ["/static/favicon.svg", "/static/playground.css", "/static/playground.js"]
    assert all(r.status_code == 200 for r in served.values())
    script = served["/static/playground.js"].text
    assert "/v1/chat/completions" in script and "getReader" in script  # streams with fetch
    assert "basis" in script and "innerHTML" not in script
    assert served["/static/favicon.svg"].headers["content-type"].startswith("image/svg+xml")
    assert icon.status_code == 301 and icon.headers["location"] == "/static/favicon.svg"
    assert missing.status_code == 404 and "error" in missing.json()
