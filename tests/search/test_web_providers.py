"""Web search providers against scripted fakes of their services on 127.0.0.1.

Brave, Tavily and Exa are paid remote services that the tests cannot reach, and
SearXNG is self-hosted; each is stood in for by a real HTTP server in a thread
that answers with the service's documented response shape and records every
request, so the tests also check what was sent (path, parameters, auth header).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bench.harness import free_port
from tests.support.loopback import Loopback, LoopbackHandler, LoopbackServer, serve_in_thread

from deepcite.config import ConfigError, Settings
from deepcite.errors import UpstreamError
from deepcite.search.base import SearchProvider
from deepcite.search.brave import BraveSearch
from deepcite.search.exa import ExaSearch
from deepcite.search.local_index import LocalIndex
from deepcite.search.registry import PROVIDERS, build_providers
from deepcite.search.searxng import SearxngSearch
from deepcite.search.tavily import TavilySearch

KEY = "test-key-123"


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclasses.dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedApi(Loopback):
    """A fake remote API: one scripted reply per path; records what it received."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.replies: dict[str, Reply] = {}
        self.received: list[Received] = []

    @property
    def last(self) -> Received:
        assert self.received, "the fake service received no request"
        return self.received[-1]


class _Handler(LoopbackHandler):
    server: LoopbackServer[ScriptedApi]

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        api = self.server.state
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        api.received.append(Received(self.command, parts.path, parse_qs(parts.query), headers, body))
        reply = api.replies.get(parts.path, Reply(404, {"detail": "Not Found"}))
        if reply.delay and api.stopping.wait(reply.delay):
            return
        payload = json.dumps(reply.body).encode() if isinstance(reply.body, dict) else reply.body
        self.send_body(reply.status, reply.content_type, payload, headers=reply.headers)


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with serve_in_thread(_Handler, ScriptedApi) as served:
        yield served


# Responses shaped as each service documents them (fields we do not read included).

SEARXNG_RESPONSE: dict[str, Any] = {
    "query": "arctic tern migration",
    "number_of_results": 0,
    "results": [
        {
            "url": "https://en.wikipedia.org/wiki/Arctic_tern",
            "title": "Arctic tern - Wikipedia",
            "content": "The Arctic tern is a tern in the family Laridae. It has a circumpolar breeding distribution.",
            "engine": "wikipedia",
            "parsed_url": ["https", "en.wikipedia.org", "/wiki/Arctic_tern", "", "", ""],
            "template": "default.html",
            "engines": ["wikipedia", "duckduckgo"],
            "positions": [1, 2],
            "publishedDate": None,
            "score": 4.0,
            "category": "general",
        },
        {
            "url": "https://www.audubon.org/field-guide/bird/arctic-tern",
            "title": "Arctic Tern | Audubon Field Guide",
            "content": "Flying from the Arctic to the Antarctic and back each year.",
            "engine": "duckduckgo",
            "parsed_url": ["https", "www.audubon.org", "/field-guide/bird/arctic-tern", "", "", ""],
            "template": "default.html",
            "engines": ["duckduckgo"],
            "positions": [2],
            "publishedDate": "2023-06-01T00:00:00",
            "score": 0.5,
            "category": "general",
        },
        {
            # Repeated URL (another engine's copy) and a result that is no web page.
            "url": "https://en.wikipedia.org/wiki/Arctic_tern",
            "title": "Arctic tern",
            "content": "duplicate",
            "engine": "bing",
        },
        {"url": "magnet:?xt=urn:btih:abc", "title": "A torrent", "content": "not a page", "engine": "piratebay"},
        {
            "url": "https://www.nationalgeographic.com/animals/birds/facts/arctic-tern",
            "title": "Arctic Tern | National Geographic",
            "content": "Arctic terns migrate farther than any other animal.",
            "engine": "google",
            "publishedDate": None,
        },
    ],
    "answers": [],
    "corrections": [],
    "infoboxes": [],
    "suggestions": ["arctic tern lifespan"],
    "unresponsive_engines": [],
}

BRAVE_RESPONSE: dict[str, Any] = {
    "type": "search",
    "query": {"original": "arctic tern migration", "show_strict_warning": False, "more_results_available": True},
    "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}], "top": [], "side": []},
    "web": {
        "type": "search",
        "family_friendly": True,
        "results": [
            {
                "type": "search_result",
                "subtype": "generic",
                "title": "Arctic tern - Wikipedia",
                "url": "https://en.wikipedia.org/wiki/Arctic_tern",
                "is_source_local": False,
                "is_source_both": False,
                "description": "The <strong>Arctic tern</strong> makes the longest <strong>migration</strong> "
                "of any bird &#x27;pole to pole&#x27; &amp; back.",
                "page_age": "2023-10-13T07:45:55",
                "age": "October 13, 2023",
                "profile": {
                    "name": "Wikipedia",
                    "url": "https://en.wikipedia.org/wiki/Arctic_tern",
                    "long_name": "en.wikipedia.org",
                    "img": "https://imgs.search.brave.com/favicon.png",
                },
                "language": "en",
                "family_friendly": True,
                "meta_url": {
                    "scheme": "https",
                    "netloc": "en.wikipedia.org",
                    "hostname": "en.wikipedia.org",
                    "favicon": "https://imgs.search.brave.com/favicon.png",
                    "path": "› wiki › Arctic_tern",
                },
            },
            {
                "type": "search_result",
                "subtype": "generic",
                "title": "Tracking the <strong>Arctic tern</strong>",
                "url": "https://www.bbc.co.uk/news/science-environment-arctic-tern",
                "description": "Terns tracked with geolocators flew about 90,000 km.",
                "age": "3 days ago",
                "language": "en",
                "family_friendly": True,
            },
        ],
    },
}

TAVILY_RESPONSE: dict[str, Any] = {
    "query": "arctic tern migration",
    "follow_up_questions": None,
    "answer": None,
    "images": [],
    "results": [
        {
            "title": "Arctic tern - Wikipedia",
            "url": "https://en.wikipedia.org/wiki/Arctic_tern",
            "content": "The Arctic tern is famous for its migration; it flies from its Arctic breeding grounds "
            "to the Antarctic and back again each year.",
            "score": 0.81,
            "raw_content": None,
        },
        {
            "title": "Arctic terns break migration record",
            "url": "https://www.theguardian.com/environment/arctic-terns-record",
            "content": "A tern flew 96,000 km in a year.",
            "score": 0.64,
            "raw_content": None,
            "published_date": "Wed, 01 May 2024 09:00:00 GMT",
        },
    ],
    "response_time": 1.09,
    "request_id": "123e4567-e89b-12d3-a456-426614174111",
}

EXA_RESPONSE: dict[str, Any] = {
    "requestId": "b5947044c4b78efa9552a7c89b306d95",
    "resolvedSearchType": "neural",
    "searchType": "auto",
    "results": [
        {
            "title": "Arctic tern - Wikipedia",
            "url": "https://en.wikipedia.org/wiki/Arctic_tern",
            "publishedDate": "2023-11-16T01:36:32.547Z",
            "author": "Wikipedia contributors",
            "id": "https://en.wikipedia.org/wiki/Arctic_tern",
            "image": "https://upload.wikimedia.org/tern.jpg",
            "favicon": "https://en.wikipedia.org/favicon.ico",
            "text": "The Arctic tern (Sterna paradisaea) is a tern in the family Laridae.\n\nIt has a circumpolar "
            "breeding distribution.",
        },
        {
            "title": "Long-distance migration",
            "url": "https://www.pnas.org/doi/10.1073/pnas.0909493107",
            "publishedDate": None,
            "author": None,
            "id": "https://www.pnas.org/doi/10.1073/pnas.0909493107",
            "text": "Tracking of Arctic terns revealed the longest annual migration ever recorded.",
        },
    ],
    "costDollars": {"total": 0.005},
}


async def test_searxng_asks_for_json_and_reads_results(api: ScriptedApi) -> None:
    # Instances often live under a path prefix; the search path goes below it.
    api.replies["/searx/search"] = Reply(body=SEARXNG_RESPONSE)
    provider = SearxngSearch(api.base_url + "/searx")
    try:
        hits = await provider.search("arctic tern migration", limit=10)
    finally:
        await provider.aclose()
    assert api.last.method == "GET"
    assert api.last.path == "/searx/search"
    assert api.last.query == {"q": ["arctic tern migration"], "format": ["json"]}
    assert [h.url for h in hits] == [
        "https://en.wikipedia.org/wiki/Arctic_tern",
        "https://www.audubon.org/field-guide/bird/arctic-tern",
        "https://www.nationalgeographic.com/animals/birds/facts/arctic-tern",
    ]
    first, second, _ = hits
    assert first.title == "Arctic tern - Wikipedia"
    assert first.text.startswith("The Arctic tern is a tern in the family Laridae.")
    assert first.provider == "searxng"
    assert first.page_text is None  # the engine reads the page before quoting it
    assert first.publish_date is None
    assert second.publish_date == "2023-06-01T00:00:00"
    assert first.score > second.score


async def test_searxng_applies_the_limit_itself(api: ScriptedApi) -> None:
    api.replies["/search"] = Reply(body=SEARXNG_RESPONSE)
    provider = SearxngSearch(api.base_url)
    try:
        assert len(await provider.search("tern", limit=2)) == 2
        assert await provider.search("tern", limit=0) == []
    finally:
        await provider.aclose()


async def test_brave_sends_its_token_and_strips_html_from_snippets(api: ScriptedApi) -> None:
    api.replies["/res/v1/web/search"] = Reply(body=BRAVE_RESPONSE)
    provider = BraveSearch(KEY, base_url=api.base_url + "/res/v1")
    try:
        hits = await provider.search("arctic tern migration", limit=5)
    finally:
        await provider.aclose()
    request = api.last
    assert request.method == "GET"
    assert request.headers["x-subscription-token"] == KEY
    assert request.query == {"q": ["arctic tern migration"], "count": ["5"]}
    assert [h.url for h in hits] == [
        "https://en.wikipedia.org/wiki/Arctic_tern",
        "https://www.bbc.co.uk/news/science-environment-arctic-tern",
    ]
    assert hits[0].text == "The Arctic tern makes the longest migration of any bird 'pole to pole' & back."
    assert hits[1].title == "Tracking the Arctic tern"
    assert hits[0].publish_date == "2023-10-13T07:45:55"
    assert hits[1].publish_date == "3 days ago"  # no `page_age`: Brave's `age` is the best there is
    assert all(h.provider == "brave" and h.page_text is None for h in hits)


async def test_brave_asks_for_at_most_twenty_and_copes_with_no_web_results(api: ScriptedApi) -> None:
    api.replies["/res/v1/web/search"] = Reply(body={"type": "search", "query": {"original": "zzzx"}})
    provider = BraveSearch(KEY, base_url=api.base_url + "/res/v1")
    try:
        assert await provider.search("zzzx", limit=50) == []
    finally:
        await provider.aclose()
    assert api.last.query["count"] == ["20"]


async def test_tavily_posts_the_query_with_a_bearer_key(api: ScriptedApi) -> None:
    api.replies["/search"] = Reply(body=TAVILY_RESPONSE)
    provider = TavilySearch(KEY, base_url=api.base_url)
    try:
        hits = await provider.search("arctic tern migration", limit=4)
    finally:
        await provider.aclose()
    request = api.last
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"query": "arctic tern migration", "max_results": 4}
    assert [h.title for h in hits] == ["Arctic tern - Wikipedia", "Arctic terns break migration record"]
    assert hits[0].text.startswith("The Arctic tern is famous for its migration;")
    assert hits[0].publish_date is None
    assert hits[1].publish_date == "Wed, 01 May 2024 09:00:00 GMT"
    assert all(h.provider == "tavily" and h.page_text is None for h in hits)


async def test_exa_posts_the_query_asking_for_text(api: ScriptedApi) -> None:
    api.replies["/search"] = Reply(body=EXA_RESPONSE)
    provider = ExaSearch(KEY, base_url=api.base_url, snippet_characters=500)
    try:
        hits = await provider.search("arctic tern migration", limit=3)
    finally:
        await provider.aclose()
    request = api.last
    assert request.method == "POST"
    assert request.headers["x-api-key"] == KEY
    assert request.json() == {
        "query": "arctic tern migration",
        "numResults": 3,
        "contents": {"text": {"maxCharacters": 500}},
    }
    assert [h.url for h in hits] == [
        "https://en.wikipedia.org/wiki/Arctic_tern",
        "https://www.pnas.org/doi/10.1073/pnas.0909493107",
    ]
    # Exa's text keeps the page's line breaks; a snippet is one line.
    assert hits[0].text == (
        "The Arctic tern (Sterna paradisaea) is a tern in the family Laridae. It has a circumpolar breeding distribution."
    )
    assert hits[0].publish_date == "2023-11-16T01:36:32.547Z"
    assert hits[1].publish_date is None
    assert all(h.provider == "exa" and h.page_text is None for h in hits)


# Each provider, pointed at the fake, with the path it calls and an error body as it documents it.
ProviderMaker = Callable[[str, float], SearchProvider]

# (name, make, path called, 401 body as documented, what the message must quote from it)
PROVIDER_CASES: list[tuple[str, ProviderMaker, str, dict[str, Any], str]] = [
    (
        "searxng",
        lambda url, timeout: SearxngSearch(url, timeout=timeout),
        "/search",
        {"detail": "Invalid credentials for the instance"},
        "Invalid credentials for the instance",
    ),
    (
        "brave",
        lambda url, timeout: BraveSearch(KEY, base_url=url + "/res/v1", timeout=timeout),
        "/res/v1/web/search",
        {
            "type": "ErrorResponse",
            "error": {
                "id": "a8c0cdca-bb6a-4d1d-a2b5-3ad7b0c0e7f1",
                "status": 401,
                "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.",
                "meta": {"component": "authentication"},
            },
            "time": 1700000000,
        },
        "The provided subscription token is invalid.",
    ),
    (
        "tavily",
        lambda url, timeout: TavilySearch(KEY, base_url=url, timeout=timeout),
        "/search",
        {"detail": {"error": "Unauthorized: missing or invalid API key."}},
        "Unauthorized: missing or invalid API key.",
    ),
    (
        "exa",
        lambda url, timeout: ExaSearch(KEY, base_url=url, timeout=timeout),
        "/search",
        {"requestId": "0b2e4d1c", "error": "Invalid API key", "tag": "INVALID_API_KEY"},
        "Invalid API key",
    ),
]


def _provider_cases() -> list[Any]:
    return [pytest.param(make, path, body, quoted, id=name) for name, make, path, body, quoted in PROVIDER_CASES]


async def _search_error(provider: SearchProvider) -> UpstreamError:
    try:
        with pytest.raises(UpstreamError) as caught:
            await provider.search("arctic tern", limit=3)
    finally:
        await provider.aclose()  # type: ignore[attr-defined]
    assert caught.value.message.startswith(f"search provider {provider.name}:")
    assert caught.value.status_code == 502
    return caught.value


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_unauthorized_is_an_upstream_error_with_the_service_message(
    api: ScriptedApi, make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    api.replies[path] = Reply(401, error_body)
    error = await _search_error(make(api.base_url, 5.0))
    assert "HTTP 401" in error.message
    assert quoted in error.message
    assert KEY not in error.message


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_server_error_is_an_upstream_error(
    api: ScriptedApi, make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    api.replies[path] = Reply(500, b"<html><body>Internal Server Error</body></html>", "text/html")
    error = await _search_error(make(api.base_url, 5.0))
    assert "HTTP 500" in error.message


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_rate_limit_is_an_upstream_error_that_says_so(
    api: ScriptedApi, make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    api.replies[path] = Reply(429, {"detail": "Too many requests"}, headers=(("Retry-After", "7"),))
    error = await _search_error(make(api.base_url, 5.0))
    assert "rate limited" in error.message
    assert "retry after 7s" in error.message


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_malformed_json_is_an_upstream_error(
    api: ScriptedApi, make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    api.replies[path] = Reply(200, b'{"results": [{"url": "https://example.org"', "application/json")
    error = await _search_error(make(api.base_url, 5.0))
    assert "not JSON" in error.message
    assert isinstance(error.__cause__, ValueError)


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_wrong_shape_is_an_upstream_error(
    api: ScriptedApi, make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    shape = {"web": {"results": "none"}} if path.endswith("/web/search") else {"results": "none"}
    api.replies[path] = Reply(200, shape)
    error = await _search_error(make(api.base_url, 5.0))
    assert "is not a list" in error.message


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_timeout_is_an_upstream_error(
    api: ScriptedApi, make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    api.replies[path] = Reply(body={"results": []}, delay=5.0)
    error = await _search_error(make(api.base_url, 0.3))
    assert "no answer within 0.3s" in error.message
    assert error.__cause__ is not None


@pytest.mark.parametrize(("make", "path", "error_body", "quoted"), _provider_cases())
async def test_unreachable_service_is_an_upstream_error(
    make: ProviderMaker, path: str, error_body: dict[str, Any], quoted: str
) -> None:
    port = free_port()  # a port that was free a moment ago: nothing listens there
    error = await _search_error(make(f"http://127.0.0.1:{port}", 2.0))
    assert "ConnectError" in error.message


async def test_registry_builds_each_web_provider_from_its_setting(tmp_path: Path) -> None:
    settings = Settings(
        search="searxng,brave,tavily,exa",
        searxng_url="http://127.0.0.1:8888",
        brave_api_key=KEY,
        tavily_api_key=KEY,
        exa_api_key=KEY,
    )
    index = LocalIndex(tmp_path / "index.sqlite3")
    try:
        providers = build_providers(settings, index)
        assert [p.name for p in providers] == ["searxng", "brave", "tavily", "exa"]
        for provider in providers:
            await provider.aclose()  # type: ignore[attr-defined]
    finally:
        index.close()
    assert set(PROVIDERS) >= {"local", "searxng", "brave", "tavily", "exa"}


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("searxng", "DEEPCITE_SEARXNG_URL"),
        ("brave", "DEEPCITE_BRAVE_API_KEY"),
        ("tavily", "DEEPCITE_TAVILY_API_KEY"),
        ("exa", "DEEPCITE_EXA_API_KEY"),
    ],
)
def test_registry_refuses_a_web_provider_without_its_setting(tmp_path: Path, name: str, variable: str) -> None:
    index = LocalIndex(tmp_path / "index.sqlite3")
    try:
        with pytest.raises(ConfigError, match=variable):
            build_providers(Settings(search=f"local,{name}"), index)
    finally:
        index.close()
