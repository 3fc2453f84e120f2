"""`POST /v1/search` and `POST /v1/extract` over a real local index, a real web site on
127.0.0.1, the real fetcher and the real embedding model.

The one scripted part is `ScriptedWebSearch`, standing in for a remote web search API
(Brave, Exa) that answers with snippets and publish dates.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_harness import ScriptedEngine
from tests.fetch.local_site import ARTICLE_SENTENCES, BOILERPLATE, PDF_SENTENCE, LocalSite

from deepcite.api.app import create_app
from deepcite.config import Settings
from deepcite.fetch.fetcher import Fetcher
from deepcite.llm.encoder import SentenceEncoder
from deepcite.research.search_service import SearchService
from deepcite.search.base import SearchHit, SearchProvider
from deepcite.search.local_index import LocalIndex
from deepcite.search.registry import build_providers
from deepcite.store.keys import KeyStore

TERN_URL = "https://en.example.org/wiki/Arctic_tern"
TERN_BLOG_URL = "https://www.birds.example.com/blog/terns"
PENGUIN_URL = "https://news.example.net/penguins"
BREAD_URL = "https://cooking.example.com/sourdough"

PAGES = {
    TERN_URL: (
        "Arctic tern",
        "The Arctic tern is a tern in the family Laridae. This bird has a circumpolar breeding distribution "
        "covering the Arctic and sub-Arctic regions of Europe, Asia and North America. The species is strongly "
        "migratory, seeing two summers each year as it migrates along a convoluted route from its northern "
        "breeding grounds to the Antarctic coast for the southern summer and back again about six months later.\n\n"
        "Recent studies have shown average annual round-trip lengths of about 70,900 km for birds nesting in "
        "Iceland and Greenland and about 48,700 km for birds nesting in the Netherlands. These are by far the "
        "longest migrations known in the animal kingdom. The Arctic tern flies as well as glides through the air, "
        "and it nests once every one to three years.\n\n"
        "Arctic terns are medium-sized birds. They have a length of 33 to 36 centimetres and a wingspan of 76 to "
        "85 centimetres. They are mainly grey and white plumaged, with a red beak and feet, white forehead, a "
        "black nape and crown, and white cheeks. The grey mantle is 305 millimetres, and the scapulars are fringed "
        "brown, some tipped white.",
    ),
    TERN_BLOG_URL: (
        "Watching terns on the coast",
        "We spent a week on the Farne Islands watching terns. The Arctic tern colony was loud and busy, and the "
        "birds dive-bombed anyone who walked too close to their nests, so bring a hat. Their migration to the "
        "Antarctic starts in late summer, and by September the colony is almost empty again.\n\n"
        "Common terns nest on the same islands, and telling them apart takes practice: the Arctic tern has a "
        "shorter, blood-red bill with no black tip, shorter legs and a longer tail streamer when it stands.",
    ),
    PENGUIN_URL: (
        "Emperor penguins breed in the Antarctic winter",
        "Emperor penguins are the only penguins that breed during the Antarctic winter. Males incubate the single "
        "egg on their feet for about 65 days while the females feed at sea, and the whole colony huddles against "
        "winds that can reach 200 kilometres per hour. The birds do not migrate far; they stay near the sea ice "
        "all year.",
    ),
    BREAD_URL: (
        "Baking sourdough bread",
        "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria instead of baker's yeast. "
        "Feed the starter with flour and water a day before baking, mix the dough, let it rest, fold it every half "
        "hour, then shape it and bake it in a hot covered pot for a crisp crust.",
    ),
}


class ScriptedWebSearch:
    """Stands in for a remote web search API: snippets with publish dates, no page text."""

    name = "web"

    def __init__(self, hits: list[SearchHit]) -> None:
        self.hits = hits

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        return self.hits[:limit]


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[LocalIndex]:
    index = await LocalIndex.open(tmp_path / "index.sqlite3")
    for url, (title, text) in PAGES.items():
        await index.upsert(url, title, text, source="test")
    yield index
    index.close()


Client = contextlib.AbstractAsyncContextManager[httpx.AsyncClient]
MakeClient = Callable[..., Client]


@pytest.fixture
def make_client(tmp_path: Path, index: LocalIndex, embedder: SentenceEncoder) -> MakeClient:
    """`make_client(providers=None, **settings)`: an in-process client of an app with search and extract."""

    @contextlib.asynccontextmanager
    async def make(providers: list[SearchProvider] | None = None, **values: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings(home=tmp_path, **values)
        async with Fetcher(settings) as fetcher:
            service = SearchService(
                providers if providers is not None else build_providers(settings, index),
                embedder,
                index=index,
                reader=fetcher,
            )
            app = create_app(settings, ScriptedEngine(), KeyStore(settings.state_path), search=service)
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4321))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield client

    return make


def assert_verbatim(results: list[dict[str, Any]]) -> None:
    for result in results:
        page_text = PAGES[result["url"]][1]
        assert result["excerpts"], result
        for excerpt in result["excerpts"]:
            assert excerpt in page_text


async def test_search_by_objective_ranks_the_relevant_pages_first(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.post("/v1/search", json={"objective": "How far do Arctic terns migrate each year?"})
    assert response.status_code == 200
    body = response.json()
    assert body["search_id"].startswith("search_") and len(body["search_id"]) > 20
    urls = [r["url"] for r in body["results"]]
    assert urls[0] == TERN_URL
    assert BREAD_URL not in urls
    assert body["results"][0]["title"] == "Arctic tern"
    assert body["results"][0]["publish_date"] is None
    assert any("70,900 km" in e for e in body["results"][0]["excerpts"])
    assert_verbatim(body["results"])


async def test_search_by_queries_alone(make_client: MakeClient) -> None:
    async with make_client() as client:
        response = await client.post("/v1/search", json={"search_queries": ["sourdough starter", "bake bread"]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["url"] for r in results] == [BREAD_URL]
    assert_verbatim(results)


async def test_source_policy_includes_and_excludes_domains_with_their_subdomains(make_client: MakeClient) -> None:
    query = {"objective": "Arctic tern migration to the Antarctic"}
    async with make_client() as client:
        included = await client.post("/v1/search", json={**query, "source_policy": {"include_domains": ["example.com"]}})
        excluded = await client.post(
            "/v1/search", json={**query, "source_policy": {"exclude_domains": ["https://www.example.org/"]}}
        )
    assert [r["url"] for r in included.json()["results"]] == [TERN_BLOG_URL]
    urls = [r["url"] for r in excluded.json()["results"]]
    assert TERN_URL not in urls and TERN_BLOG_URL in urls


async def test_max_results_and_excerpt_limits_are_honoured(make_client: MakeClient) -> None:
    async with make_client() as client:
        one = await client.post("/v1/search", json={"objective": "Antarctic birds", "max_results": 1})
        short = await client.post(
            "/v1/search",
            json={"objective": "Arctic tern wingspan and colour", "excerpts": {"max_chars_per_result": 200}},
        )
        top_level = await client.post(
            "/v1/search", json={"objective": "Arctic tern wingspan and colour", "max_chars_per_result": 150}
        )
    assert len(one.json()["results"]) == 1
    for response, limit in ((short, 200), (top_level, 150)):
        results = response.json()["results"]
        assert results
        assert_verbatim(results)
        for result in results:
            assert sum(len(e) for e in result["excerpts"]) <= limit
    first = short.json()["results"][0]
    assert first["url"] == TERN_URL
    # Trimmed by whole sentences, to the ones that answer.
    assert any("wingspan of 76 to 85 centimetres" in e and e.endswith(".") for e in first["excerpts"])


async def test_web_hits_are_read_and_filtered_by_date(make_client: MakeClient, local_site: LocalSite) -> None:
    web = ScriptedWebSearch(
        [
            SearchHit(local_site.url("/article"), "Terns", "A snippet about terns.", 1.0, "web", publish_date="2024-05-01"),
            SearchHit(local_site.url("/notes.txt"), "Notes", "The terns arrived.", 0.9, "web", publish_date="2019-01-01"),
            SearchHit(local_site.url("/report.pdf"), "Survey", "Tern colony counts.", 0.8, "web", publish_date="soon"),
        ]
    )
    body = {"objective": "How far does an Arctic tern fly in a year?", "source_policy": {"after_date": "2023-01-01"}}
    async with make_client([web], fetch_allow_hosts="127.0.0.1:*") as client:
        response = await client.post("/v1/search", json=body)
    assert response.status_code == 200
    results = {r["url"]: r for r in response.json()["results"]}
    assert set(results) == {local_site.url("/article"), local_site.url("/report.pdf")}  # the 2019 page is dropped
    article = results[local_site.url("/article")]
    assert article["publish_date"] == "2024-05-01"
    # Excerpts come from the page as read, not from the provider's snippet.
    assert any(ARTICLE_SENTENCES[1] in e for e in article["excerpts"])
    assert results[local_site.url("/report.pdf")]["excerpts"] == [PDF_SENTENCE]


async def test_search_needs_an_objective_or_queries(make_client: MakeClient) -> None:
    async with make_client() as client:
        missing = await client.post("/v1/search", json={"search_queries": ["  "], "max_results": 3})
        too_many = await client.post("/v1/search", json={"objective": "terns", "max_results": 41})
        bad_date = await client.post("/v1/search", json={"objective": "terns", "source_policy": {"after_date": "May"}})
        not_json = await client.post("/v1/search", content=b"{objective", headers={"content-type": "application/json"})
        not_object = await client.post("/v1/search", json=["terns"])
        unknown = await client.post("/v1/search", json={"objective": "terns", "processor": "pro", "extra": {"a": 1}})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "objective"
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "max_results"
    assert bad_date.status_code == 400 and bad_date.json()["error"]["param"] == "source_policy.after_date"
    for response in (not_json, not_object):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert unknown.status_code == 200


async def test_extract_reads_local_index_pages_without_http(make_client: MakeClient) -> None:
    body = {"urls": [TERN_URL], "objective": "What colour is the beak?", "full_content": True}
    async with make_client() as client:
        response = await client.post("/v1/extract", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["extract_id"].startswith("extract_")
    assert data["errors"] == []
    [result] = data["results"]
    assert result["title"] == "Arctic tern"
    assert result["full_content"] == PAGES[TERN_URL][1]
    assert "red beak" in result["excerpts"][0]
    assert all(e in PAGES[TERN_URL][1] for e in result["excerpts"])


async def test_extract_fetches_html_and_pdf_pages(make_client: MakeClient, local_site: LocalSite) -> None:
    body = {"urls": [local_site.url("/article"), local_site.url("/report.pdf")], "full_content": True}
    async with make_client(fetch_allow_hosts="127.0.0.1:*") as client:
        response = await client.post("/v1/extract", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["errors"] == []
    article, report = data["results"]
    assert article["url"] == local_site.url("/article")
    assert article["title"] == "The Migration of Arctic Terns"
    assert all(sentence in article["full_content"] for sentence in ARTICLE_SENTENCES)
    assert not any(junk in article["full_content"] for junk in BOILERPLATE)
    # Without an objective, the first passages.
    assert article["excerpts"] and article["full_content"].startswith(article["excerpts"][0][:40])
    assert all(e in article["full_content"] for e in article["excerpts"])
    assert PDF_SENTENCE in report["full_content"]
    assert report["excerpts"] == [PDF_SENTENCE]


async def test_extract_defaults_to_excerpts_only_and_can_skip_them(make_client: MakeClient) -> None:
    async with make_client() as client:
        default = await client.post("/v1/extract", json={"urls": [BREAD_URL]})
        bare = await client.post("/v1/extract", json={"urls": [BREAD_URL], "excerpts": False, "full_content": {}})
        capped = await client.post(
            "/v1/extract",
            json={
                "urls": [BREAD_URL],
                "excerpts": {"max_chars_per_result": 120},
                "full_content": {"max_chars_per_result": 50},
            },
        )
    [result] = default.json()["results"]
    assert result["excerpts"] == [PAGES[BREAD_URL][1]] and result["full_content"] is None
    [result] = bare.json()["results"]
    assert result["excerpts"] is None and result["full_content"] == PAGES[BREAD_URL][1]
    [result] = capped.json()["results"]
    assert result["full_content"] == PAGES[BREAD_URL][1][:50]
    assert result["excerpts"] and len(result["excerpts"][0]) <= 120
    assert result["excerpts"][0] in PAGES[BREAD_URL][1]


async def test_extract_reports_refused_and_missing_pages_as_errors(make_client: MakeClient, local_site: LocalSite) -> None:
    urls = [local_site.url("/article"), BREAD_URL]
    async with make_client() as client:  # private addresses not allowed
        refused = await client.post("/v1/extract", json={"urls": urls})
    assert refused.status_code == 200
    data = refused.json()
    assert [r["url"] for r in data["results"]] == [BREAD_URL]
    [error] = data["errors"]
    assert error["url"] == local_site.url("/article")
    assert error["error_type"] == "url_refused"
    assert "127.0.0.1" in error["content"]
    assert local_site.hits("/article") == 0

    async with make_client(fetch_allow_hosts="127.0.0.1:*") as client:
        missing = await client.post("/v1/extract", json={"urls": [local_site.url("/gone")]})
    [error] = missing.json()["errors"]
    assert error["error_type"] == "http_error" and error["http_status_code"] == 404


async def test_extract_validates_its_urls(make_client: MakeClient) -> None:
    async with make_client() as client:
        too_many = await client.post("/v1/extract", json={"urls": [f"https://example.com/{i}" for i in range(21)]})
        none = await client.post("/v1/extract", json={"urls": []})
        missing = await client.post("/v1/extract", json={"objective": "terns"})
        wrong_type = await client.post("/v1/extract", json={"urls": [TERN_URL], "excerpts": "yes please"})
        empty_body = await client.post("/v1/extract", content=b"")
    for response, param in ((too_many, "urls"), (none, "urls"), (missing, "urls"), (wrong_type, "excerpts")):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param
    assert empty_body.status_code == 400


async def test_search_and_extract_sit_behind_auth_and_the_rate_limit(make_client: MakeClient) -> None:
    async with make_client(api_keys="sk-test-key", rate_limit="1/minute") as client:
        anonymous = await client.post("/v1/search", json={"objective": "terns"})
        first = await client.post("/v1/extract", json={"urls": [BREAD_URL]}, headers={"x-api-key": "sk-test-key"})
        second = await client.post("/v1/search", json={"objective": "terns"}, headers={"x-api-key": "sk-test-key"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "invalid_request_error"
    assert first.status_code == 200
    assert second.status_code == 429 and second.json()["error"]["type"] == "rate_limit_exceeded"
    assert "retry-after" in second.headers


async def test_without_a_search_service_the_routes_are_unavailable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    app = create_app(settings, ScriptedEngine(), KeyStore(settings.state_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/v1/search", json={"objective": "terns"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
