"""The fetcher against a real web site on 127.0.0.1 (see `local_site.py`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.fetch.local_site import (
    ARTICLE_SENTENCES,
    ARTICLE_TITLE,
    BOILERPLATE,
    PDF_SENTENCE,
    PDF_TITLE,
    TEXT_BODY,
    LocalSite,
)

from deepcite.config import Settings
from deepcite.errors import FetchError
from deepcite.fetch.fetcher import FetchedPage, Fetcher
from deepcite.store.cache import SQLiteCache

TIMEOUT = 1.0
MAX_BYTES = 500_000


def site_settings(site: LocalSite, home: Path, **overrides: Any) -> Settings:
    """Settings that trust the test site's host (and nothing else private)."""
    settings = Settings(
        home=home, fetch_allow_hosts=f"{site.host}:{site.port}", fetch_timeout=TIMEOUT, fetch_max_bytes=MAX_BYTES
    )
    return dataclasses.replace(settings, **overrides)


@pytest.fixture
async def fetcher(local_site: LocalSite, tmp_path: Path) -> AsyncIterator[Fetcher]:
    settings = site_settings(local_site, tmp_path)
    async with Fetcher(settings, SQLiteCache(settings.state_path)) as fetcher:
        yield fetcher


async def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


async def test_html_article_is_extracted_without_boilerplate(fetcher: Fetcher, local_site: LocalSite) -> None:
    page = await fetcher.fetch(local_site.url("/article"))
    assert page.title == ARTICLE_TITLE
    assert page.content_type == "text/html"
    assert page.url == page.final_url == local_site.url("/article")
    for sentence in ARTICLE_SENTENCES:
        assert sentence in page.text
    for junk in BOILERPLATE:
        assert junk not in page.text


async def test_pdf_text_is_extracted(fetcher: Fetcher, local_site: LocalSite) -> None:
    page = await fetcher.fetch(local_site.url("/report.pdf"))
    assert page.content_type == "application/pdf"
    assert page.title == PDF_TITLE
    assert PDF_SENTENCE in page.text


async def test_plain_text_is_kept_as_is(fetcher: Fetcher, local_site: LocalSite) -> None:
    page = await fetcher.fetch(local_site.url("/notes.txt"))
    assert page.content_type == "text/plain"
    assert page.text == TEXT_BODY.strip()


async def test_redirect_is_followed(fetcher: Fetcher, local_site: LocalSite) -> None:
    page = await fetcher.fetch(local_site.url("/redirect"))
    assert page.url == local_site.url("/redirect")
    assert page.final_url == local_site.url("/article")
    assert ARTICLE_SENTENCES[0] in page.text


async def test_redirect_to_a_private_address_is_refused(fetcher: Fetcher, local_site: LocalSite) -> None:
    # The site's host is allowed by address; `localhost` is the same machine by another name.
    error = await fetch_error(fetcher, local_site.url("/redirect-private"))
    assert error.code == "url_refused"
    assert "localhost" in error.message and "loopback" in error.message
    assert local_site.hits("/article") == 0


async def test_redirect_to_cloud_metadata_is_refused(fetcher: Fetcher, local_site: LocalSite) -> None:
    error = await fetch_error(fetcher, local_site.url("/redirect-metadata"))
    assert error.code == "url_refused"
    assert "169.254.169.254" in error.message and "cloud metadata" in error.message


async def test_redirect_to_a_file_url_is_refused(fetcher: Fetcher, local_site: LocalSite) -> None:
    error = await fetch_error(fetcher, local_site.url("/redirect-file"))
    assert error.code == "url_refused"
    assert "only http and https" in error.message


async def test_redirects_stop_after_five_hops(fetcher: Fetcher, local_site: LocalSite) -> None:
    error = await fetch_error(fetcher, local_site.url("/redirect-loop"))
    assert error.code == "too_many_redirects"
    assert local_site.hits("/redirect-loop") == 6


async def test_slow_page_times_out(fetcher: Fetcher, local_site: LocalSite) -> None:
    started = time.monotonic()
    error = await fetch_error(fetcher, local_site.url("/slow"))
    assert error.code == "fetch_timeout"
    assert "timed out after 1s" in error.message
    assert time.monotonic() - started < TIMEOUT + 1.0


@pytest.mark.parametrize("path", ["/huge", "/huge-streamed"])
async def test_page_over_the_size_cap_is_refused(fetcher: Fetcher, local_site: LocalSite, path: str) -> None:
    error = await fetch_error(fetcher, local_site.url(path))
    assert error.code == "page_too_large"
    assert f"over {MAX_BYTES} bytes" in error.message


async def test_http_error_status_is_reported(fetcher: Fetcher, local_site: LocalSite) -> None:
    error = await fetch_error(fetcher, local_site.url("/missing"))
    assert error.code == "http_error"
    assert "HTTP 404" in error.message


async def test_unsupported_content_type_is_refused(fetcher: Fetcher, local_site: LocalSite) -> None:
    error = await fetch_error(fetcher, local_site.url("/image.png"))
    assert error.code == "unsupported_type"
    assert "image/png" in error.message


async def test_cached_page_is_not_fetched_again(local_site: LocalSite, tmp_path: Path) -> None:
    settings = site_settings(local_site, tmp_path)
    url = local_site.url("/article")
    async with Fetcher(settings, SQLiteCache(settings.state_path)) as fetcher:
        first = await fetcher.fetch(url)
        second = await fetcher.fetch(url)
    # A new fetcher (a restarted server) reads the same cache file.
    async with Fetcher(settings, SQLiteCache(settings.state_path)) as fetcher:
        third = await fetcher.fetch(url)
    assert first == second == third
    assert local_site.hits("/article") == 1


async def test_unreadable_cache_entry_is_fetched_again(local_site: LocalSite, tmp_path: Path) -> None:
    settings = site_settings(local_site, tmp_path)
    cache = SQLiteCache(settings.state_path)
    url = local_site.url("/notes.txt")
    await cache.set("page:" + url, '{"url": "from an older version"}', ttl=60)
    async with Fetcher(settings, cache) as fetcher:
        page = await fetcher.fetch(url)
    assert page.text == TEXT_BODY.strip()
    assert local_site.hits("/notes.txt") == 1


async def test_errors_are_not_cached(fetcher: Fetcher, local_site: LocalSite) -> None:
    for _ in range(2):
        await fetch_error(fetcher, local_site.url("/missing"))
    assert local_site.hits("/missing") == 2


async def test_fetched_page_round_trips_through_json(fetcher: Fetcher, local_site: LocalSite) -> None:
    page = await fetcher.fetch(local_site.url("/notes.txt"))
    assert FetchedPage.from_json(page.to_json()) == page
    assert page.fetched_at.tzinfo is not None


async def test_fetch_many_reports_each_url(fetcher: Fetcher, local_site: LocalSite) -> None:
    urls = [local_site.url(p) for p in ("/article", "/report.pdf", "/missing", "/article")]
    results = await fetcher.fetch_many(urls, total_timeout=5.0)
    assert list(results) == urls[:3]
    assert isinstance(results[urls[0]], FetchedPage)
    assert isinstance(results[urls[1]], FetchedPage)
    assert isinstance(results[urls[2]], FetchError)


async def test_fetch_many_keeps_its_total_budget(local_site: LocalSite, tmp_path: Path) -> None:
    # The page timeout is long; the total budget is what must cut the slow page off.
    settings = site_settings(local_site, tmp_path, fetch_timeout=30.0)
    async with Fetcher(settings) as fetcher:
        started = time.monotonic()
        results = await fetcher.fetch_many(
            [local_site.url("/article"), local_site.url("/slow")], total_timeout=0.5
        )
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert isinstance(results[local_site.url("/article")], FetchedPage)
    slow = results[local_site.url("/slow")]
    assert isinstance(slow, FetchError)
    assert slow.code == "fetch_timeout" and "0.5s budget" in slow.message


async def test_fetch_many_of_nothing(fetcher: Fetcher) -> None:
    assert await fetcher.fetch_many([], total_timeout=1.0) == {}


async def test_loopback_site_is_refused_unless_allowed(local_site: LocalSite, tmp_path: Path) -> None:
    settings = site_settings(local_site, tmp_path, fetch_allow_hosts="")
    async with Fetcher(settings) as fetcher:
        error = await fetch_error(fetcher, local_site.url("/article"))
    assert error.code == "url_refused" and "loopback" in error.message
    assert local_site.hits("/article") == 0


async def test_allow_private_opens_loopback(local_site: LocalSite, tmp_path: Path) -> None:
    settings = site_settings(local_site, tmp_path, fetch_allow_hosts="", fetch_allow_private=True)
    async with Fetcher(settings) as fetcher:
        page = await fetcher.fetch(local_site.url("/redirect-private"))
    assert page.final_url == f"http://localhost:{local_site.port}/article"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",  # 127.0.0.1 written as one number
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "ftp://example.com/",
    ],
)
async def test_dangerous_urls_are_refused(fetcher: Fetcher, url: str) -> None:
    error = await fetch_error(fetcher, url)
    assert error.code == "url_refused"
