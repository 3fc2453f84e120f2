"""The TTL caches against a real SQLite file and a real redis-server (`redis_url`, tests/conftest.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from deepcite.config import Settings
from deepcite.store.cache import Cache, RedisCache, SQLiteCache, build_cache


@pytest.fixture
async def sqlite_cache(tmp_path: Path) -> AsyncIterator[SQLiteCache]:
    cache = SQLiteCache(tmp_path / "state.sqlite3", purge_interval=0)
    yield cache
    await cache.aclose()


@pytest.fixture
async def redis_cache(redis_url: str) -> AsyncIterator[RedisCache]:
    # A prefix per test: the server is shared by the whole session.
    cache = RedisCache(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    yield cache
    await cache.aclose()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def cache(request: pytest.FixtureRequest) -> Cache:
    """Each behaviour below holds for both caches."""
    return request.getfixturevalue(f"{request.param}_cache")  # type: ignore[no-any-return]


async def test_round_trip_bytes_and_str(cache: Cache) -> None:
    await cache.set("bytes", b"\x00\xffdata", ttl=60)
    await cache.set("text", "café", ttl=60)
    assert await cache.get("bytes") == b"\x00\xffdata"
    assert await cache.get("text") == "café".encode()


async def test_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get("never-set") is None


async def test_set_replaces(cache: Cache) -> None:
    await cache.set("k", "one", ttl=60)
    await cache.set("k", "two", ttl=60)
    assert await cache.get("k") == b"two"


async def test_expired_value_is_gone(cache: Cache) -> None:
    await cache.set("short", "v", ttl=0.05)
    await cache.set("long", "v", ttl=60)
    await asyncio.sleep(0.1)
    assert await cache.get("short") is None
    assert await cache.get("long") == b"v"


async def test_zero_ttl_stores_nothing(cache: Cache) -> None:
    await cache.set("k", "v", ttl=60)
    await cache.set("k", "v", ttl=0)
    assert await cache.get("k") is None


async def test_concurrent_writes(cache: Cache) -> None:
    await asyncio.gather(*(cache.set(f"k{i}", str(i), ttl=60) for i in range(40)))
    values = await asyncio.gather(*(cache.get(f"k{i}") for i in range(40)))
    assert values == [str(i).encode() for i in range(40)]


def _rows(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT key FROM cache_entries ORDER BY key")]


async def test_sqlite_purges_expired_rows(sqlite_cache: SQLiteCache) -> None:
    await sqlite_cache.set("stale", "v", ttl=0.01)
    await asyncio.sleep(0.05)
    await sqlite_cache.set("fresh", "v", ttl=60)
    assert _rows(sqlite_cache.path) == ["fresh"]


async def test_sqlite_shares_its_file_and_outlives_the_instance(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.sqlite3"
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE api_keys (key TEXT)")
    await SQLiteCache(path).set("k", "v", ttl=60)
    assert await SQLiteCache(path).get("k") == b"v"
    with closing(sqlite3.connect(path)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"api_keys", "cache_entries"}


async def test_sqlite_creates_its_folder(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "home" / "state.sqlite3")
    await cache.set("k", "v", ttl=60)
    assert await cache.get("k") == b"v"


async def test_build_cache_defaults_to_sqlite_state_file(tmp_path: Path) -> None:
    cache = build_cache(Settings(home=tmp_path))
    assert isinstance(cache, SQLiteCache)
    assert cache.path == tmp_path / "state.sqlite3"


@pytest.mark.redis
async def test_build_cache_picks_redis_when_configured(redis_url: str, tmp_path: Path) -> None:
    cache = build_cache(Settings(home=tmp_path, redis_url=redis_url))
    try:
        assert isinstance(cache, RedisCache)
        key = f"test:{uuid.uuid4().hex}"
        await cache.set(key, "shared", ttl=60)
        assert await cache.get(key) == b"shared"
    finally:
        await cache.aclose()
    assert not (tmp_path / "state.sqlite3").exists()
