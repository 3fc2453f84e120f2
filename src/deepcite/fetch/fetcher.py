"""Fetch web pages safely and turn them into clean text, with a cache in front.

One pooled `httpx.AsyncClient` serves every fetch. Each fetch is bounded in
time (`fetch_timeout`, for all redirect hops and the body together) and in size
(`fetch_max_bytes`, counted on the decoded body as it streams in). Redirects are
followed by hand so that the SSRF guard sees every hop; the guard also sits on
the client's connect path (see `ssrf.py`). Pages are cached as JSON by the URL
asked for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpx

from deepcite.config import Settings
from deepcite.errors import FetchError
from deepcite.fetch.extract import SUPPORTED_TYPES, extract_page, parse_content_type
from deepcite.fetch.ssrf import GuardedTransport, SSRFGuard
from deepcite.store.cache import Cache

MAX_REDIRECTS = 5
USER_AGENT = "deepcite/0.1 (self-hosted research agent)"
ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,text/markdown;q=0.8"


@dataclasses.dataclass(frozen=True)
class FetchedPage:
    url: str
    final_url: str
    title: str
    text: str
    content_type: str
    fetched_at: datetime.datetime

    def to_json(self) -> str:
        fields = dataclasses.asdict(self)
        fields["fetched_at"] = self.fetched_at.isoformat()
        return json.dumps(fields, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: bytes | str) -> FetchedPage:
        fields: dict[str, Any] = json.loads(data)
        fields["fetched_at"] = datetime.datetime.fromisoformat(fields["fetched_at"])
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class _Download:
    final_url: str
    content_type: str
    body: bytes


class Fetcher:
    """Fetches pages for the research engine and the indexer; `aclose()` when done.

    `max_connections` bounds the pool; fetches beyond it wait for a free slot
    before their own timeout starts, so a big `fetch_many` does not time out in
    the queue.
    """

    def __init__(self, settings: Settings, cache: Cache | None = None, *, max_connections: int = 16) -> None:
        self._timeout = settings.fetch_timeout
        self._max_bytes = settings.fetch_max_bytes
        self._cache = cache
        self._cache_ttl = settings.cache_ttl
        self._guard = SSRFGuard.from_settings(settings)
        self._slots = asyncio.Semaphore(max_connections)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(self._guard, limits=limits),
            timeout=httpx.Timeout(settings.fetch_timeout),
            headers={"user-agent": USER_AGENT, "accept": ACCEPT},
            follow_redirects=False,
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> FetchedPage:
        """The page at `url`, from the cache when fresh; raises `FetchError`."""
        cache_key = "page:" + url
        if self._cache is not None:
            cached = await self._cache.get(cache_key)
            if cached is not None:
                try:
                    return FetchedPage.from_json(cached)
                except (ValueError, KeyError, TypeError):
                    pass  # written by another version of deepcite: fetch it again
        async with self._slots:
            download = await self._download_in_time(url)
        # Extraction is CPU work that cannot be interrupted, so it runs outside the timeout.
        extracted = await asyncio.to_thread(
            extract_page, download.body, download.content_type, download.final_url
        )
        page = FetchedPage(
            url=url,
            final_url=download.final_url,
            title=extracted.title,
            text=extracted.text,
            content_type=parse_content_type(download.content_type)[0],
            fetched_at=datetime.datetime.now(datetime.UTC),
        )
        if self._cache is not None:
            await self._cache.set(cache_key, page.to_json(), self._cache_ttl)
        return page

    async def fetch_many(
        self, urls: Iterable[str], *, total_timeout: float
    ) -> dict[str, FetchedPage | FetchError]:
        """Fetch pages concurrently; those not done within `total_timeout` seconds are errors."""
        tasks = {url: asyncio.create_task(self.fetch(url)) for url in dict.fromkeys(urls)}
        if not tasks:
            return {}
        try:
            await asyncio.wait(tasks.values(), timeout=total_timeout)
        finally:
            pending = [task for task in tasks.values() if not task.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        results: dict[str, FetchedPage | FetchError] = {}
        for url, task in tasks.items():
            if task.cancelled():
                results[url] = FetchError(
                    f"{url}: not fetched within the {total_timeout:g}s budget", code="fetch_timeout"
                )
            elif isinstance(error := task.exception(), FetchError):
                results[url] = error
            elif error is not None:
                raise error
            else:
                results[url] = task.result()
        return results

    async def _download_in_time(self, url: str) -> _Download:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._download(url)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise FetchError(f"{url}: timed out after {self._timeout:g}s", code="fetch_timeout") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}", code="fetch_failed") from exc

    async def _download(self, url: str) -> _Download:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL {url!r}: {exc}", code="url_refused") from exc
        for _ in range(MAX_REDIRECTS + 1):
            self._guard.check_url(target)
            async with self._client.stream("GET", target) as response:
                if response.next_request is not None:
                    target = response.next_request.url
                    continue
                return await self._read(response)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", code="too_many_redirects")

    async def _read(self, response: httpx.Response) -> _Download:
        url = str(response.url)
        if not response.is_success:
            reason = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise FetchError(f"{url}: HTTP {response.status_code}{reason}", code="http_error")
        content_type = response.headers.get("content-type", "")
        media_type = parse_content_type(content_type)[0]
        # Refuse before reading: an image or an archive is of no use, whatever its size.
        if media_type not in SUPPORTED_TYPES:
            raise FetchError(f"{url}: unsupported content type {media_type!r}", code="unsupported_type")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise self._too_large(url)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise self._too_large(url)
        return _Download(final_url=url, content_type=content_type, body=bytes(body))

    def _too_large(self, url: str) -> FetchError:
        # Truncating would hand extraction half a document (a broken PDF, HTML cut mid-tag).
        return FetchError(f"{url}: page too large (over {self._max_bytes} bytes)", code="page_too_large")
