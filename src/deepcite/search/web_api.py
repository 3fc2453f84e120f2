"""What every web search API client shares: one pooled HTTP client, errors, snippet cleaning.

Each web provider (SearXNG, Brave, Tavily, Exa) owns one `SearchApiClient`. It
bounds every call in time, and turns whatever goes wrong on the wire (an HTTP
error status, a 429, a timeout, a dropped connection, a body that is not the
JSON we expect) into `UpstreamError` naming the provider, so that the research
engine can skip a failing provider and keep the others.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from deepcite.errors import UpstreamError
from deepcite.search.base import SearchHit

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "deepcite/0.1 (self-hosted research agent)"
# Long enough to explain an error, short enough to keep a log line readable.
_MAX_ERROR_CHARS = 300

JsonObject = dict[str, Any]

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


class SearchApiClient:
    """A JSON-over-HTTP client for one search service; `aclose()` when done."""

    def __init__(
        self,
        provider: str,
        *,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.provider = provider
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"user-agent": USER_AGENT, "accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout),
            # Proxies from the environment are not ours to follow: settings say where to go.
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, path: str, *, params: Mapping[str, str | int]) -> JsonObject:
        return await self._call("GET", path, params=params)

    async def post_json(self, path: str, *, body: JsonObject) -> JsonObject:
        return await self._call("POST", path, json=body)

    async def _call(self, method: str, path: str, **kwargs: Any) -> JsonObject:
        try:
            # httpx's timeout is per read; this bounds the whole call, however slowly the body drips.
            async with asyncio.timeout(self.timeout):
                response = await self._client.request(method, path, **kwargs)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise self.error(f"no answer within {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise self.error(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 429:
            retry_after = response.headers.get("retry-after")
            wait = f" (retry after {retry_after}s)" if retry_after else ""
            raise self.error(f"rate limited, HTTP 429{wait}: {_error_detail(response)}")
        if not response.is_success:
            raise self.error(f"HTTP {response.status_code}: {_error_detail(response)}")
        try:
            payload = response.json()
        except ValueError as exc:
            raise self.error(f"answered with a body that is not JSON: {response.text[:80]!r}") from exc
        if not isinstance(payload, dict):
            raise self.error(f"answered with JSON that is not an object: {type(payload).__name__}")
        return payload

    def error(self, message: str) -> UpstreamError:
        return UpstreamError(f"search provider {self.provider}: {message}")

    def results(self, payload: JsonObject, *path: str) -> list[JsonObject]:
        """The list of result objects found at `path` in `payload` (e.g. "web", "results")."""
        value: Any = payload
        for key in path:
            if not isinstance(value, dict):
                break
            value = value.get(key)
        if value is None:
            return []  # Brave leaves `web` out when nothing matched
        if not isinstance(value, list):
            raise self.error(f"unexpected response: {'.'.join(path)} is not a list")
        return [item for item in value if isinstance(item, dict)]


def _error_detail(response: httpx.Response) -> str:
    """The service's own explanation of an error, from its JSON body or its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = _find_message(body) if body is not None else None
    text = detail or response.text.strip() or response.reason_phrase
    return text[:_MAX_ERROR_CHARS]


def _find_message(body: Any) -> str | None:
    # Brave: {"error": {"detail": ...}}; Tavily: {"detail": {"error": ...}}; Exa: {"error": ...}.
    if isinstance(body, str):
        return body or None
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            found = _find_message(body.get(key))
            if found:
                return found
    return None


def clean_snippet(value: Any) -> str:
    """Plain text of a snippet: HTML tags removed (Brave bolds matches), entities decoded, spaces collapsed."""
    if not isinstance(value, str):
        return ""
    # Tags go before entities are decoded, so an escaped "&lt;b&gt;" in the text stays text.
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", value))).strip()


def hits_from(
    provider: str,
    items: Iterable[JsonObject],
    *,
    limit: int,
    text_keys: tuple[str, ...],
    date_keys: tuple[str, ...] = (),
) -> list[SearchHit]:
    """Up to `limit` hits, in the service's order, one per URL.

    The snippet is the service's text, not the page's: `page_text` stays None so
    that the research engine reads the page itself before quoting it.
    """
    hits: list[SearchHit] = []
    seen: set[str] = set()
    for item in items:
        if len(hits) >= limit:
            break
        url = web_url(item)
        if url is None or url in seen:
            continue
        seen.add(url)
        hits.append(
            SearchHit(
                url=url,
                title=clean_snippet(item.get("title")) or url,
                text=clean_snippet(text_field(item, *text_keys)),
                score=rank_score(len(hits)),
                provider=provider,
                publish_date=text_field(item, *date_keys),
            )
        )
    return hits


def text_field(item: JsonObject, *keys: str) -> str | None:
    """The first of `keys` that holds a non-empty string."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def web_url(item: JsonObject) -> str | None:
    """The result's URL when it is one the fetcher could read (http or https)."""
    url = text_field(item, "url")
    if url is None or not url.lower().startswith(("http://", "https://")):
        return None
    return url


def rank_score(position: int) -> float:
    """Services score on scales of their own (or not at all); their order is what we trust."""
    return 1.0 / (position + 1)
