"""The OpenAPI document describes every request body and every error a route answers with."""

from __future__ import annotations

from typing import Any

from api_harness import MakeApp


async def document(make_app: MakeApp) -> dict[str, Any]:
    async with make_app().client() as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


async def test_every_post_route_declares_its_body_with_limits(make_app: MakeApp) -> None:
    doc = await document(make_app)
    posts = {path: item["post"] for path, item in doc["paths"].items() if "post" in item}
    # Cancelling a task run takes no body; every other POST does.
    assert set(posts) == {"/v1/chat/completions", "/v1/search", "/v1/extract", "/v1/tasks/runs",
                          "/v1/tasks/runs/{run_id}/cancel"}
    assert "requestBody" in posts["/v1/tasks/runs"]
    for path in ("/v1/chat/completions", "/v1/search", "/v1/extract"):
        operation = posts[path]
        body = operation["requestBody"]
        assert body["required"] is True
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"]
        assert {"400", "413", "401", "429"} <= set(operation["responses"])
    schemas = doc["components"]["schemas"]
    chat = schemas["ChatCompletionRequest"]
    assert chat["properties"]["messages"]["maxItems"] == 256
    assert chat["properties"]["stream"]["anyOf"][0] == {"type": "boolean"}
    assert schemas["Message"]["properties"]["content"]["maxLength"] == 100_000
    assert schemas["ExtractBody"]["properties"]["urls"]["maxItems"] == 20


async def test_errors_are_described_as_openais_envelope(make_app: MakeApp) -> None:
    doc = await document(make_app)
    envelope = doc["components"]["schemas"]["ErrorResponse"]
    assert envelope["properties"]["error"]["required"] == ["message", "type", "param", "code"]
    refused = doc["paths"]["/v1/chat/completions"]["post"]["responses"]["400"]
    assert refused["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorResponse"
