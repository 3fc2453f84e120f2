"""A small async key → bytes cache with a time to live, in SQLite or Redis.

SQLite is the default (a table in the state file, so a single process needs
nothing else); Redis is chosen when `redis_url` is set, so that every worker
shares one cache. Values go in as `bytes` or `str` and come back as `bytes`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Protocol

import redis.asyncio
import redis.exceptions

from deepcite.config import Settings
from deepcite.errors import ServiceUnavailableError

CacheValue = bytes | str


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The value stored under `key`, or None when absent or expired."""
        ...

    async def set(self, key: str, value: CacheValue, ttl: float) -> None:
        """Store `value` under `key` for `ttl` seconds (nothing is stored when `ttl` <= 0)."""
        ...

    async def aclose(self) -> None: ...


def _as_bytes(value: CacheValue) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


class SQLiteCache:
    """Rows of (key, value, expires_at) in their own table of a SQLite file.

    Each operation opens its own connection in a worker thread: SQLite
    connections are cheap, and this keeps the event loop free and the file
    safe to share with other processes. Expired rows are never returned and are
    deleted now and then by `set`, at most once per `purge_interval` seconds.
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS cache_entries ("
        " key TEXT PRIMARY KEY, value BLOB NOT NULL, expires_at REAL NOT NULL)"
    )

    def __init__(self, path: Path, *, purge_interval: float = 60.0) -> None:
        self.path = path
        self._purge_interval = purge_interval
        self._last_purge = 0.0
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._get, key, time.time())

    async def set(self, key: str, value: CacheValue, ttl: float) -> None:
        await asyncio.to_thread(self._set, key, _as_bytes(value), ttl, time.time())

    async def aclose(self) -> None:
        """Nothing to release: connections live for one operation."""

    def _connect(self) -> sqlite3.Connection:
        if not self._schema_ready:
            with self._schema_lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(sqlite3.connect(self.path, timeout=10.0)) as conn, conn:
                    conn.execute(self._SCHEMA)
                self._schema_ready = True
        return sqlite3.connect(self.path, timeout=10.0)

    def _get(self, key: str, now: float) -> bytes | None:
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT value FROM cache_entries WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def _set(self, key: str, value: bytes, ttl: float, now: float) -> None:
        with closing(self._connect()) as conn, conn:
            if ttl <= 0:
                conn.execute("DELETE FROM cache_entries WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO cache_entries (key, value, expires_at) VALUES (?, ?, ?)",
                    (key, value, now + ttl),
                )
            if now - self._last_purge >= self._purge_interval:
                self._last_purge = now
                conn.execute("DELETE FROM cache_entries WHERE expires_at <= ?", (now,))


class RedisCache:
    """Keys under a `deepcite:cache:` prefix; Redis expires them itself."""

    def __init__(self, url: str, *, prefix: str = "deepcite:cache:") -> None:
        self._client = redis.asyncio.Redis.from_url(url)
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._prefix + key)
        except redis.exceptions.RedisError as exc:
            raise ServiceUnavailableError(f"cache unavailable: {exc}") from exc
        return None if value is None else _as_bytes(value)

    async def set(self, key: str, value: CacheValue, ttl: float) -> None:
        try:
            if ttl <= 0:
                await self._client.delete(self._prefix + key)
            else:
                # Milliseconds, at least one: Redis refuses an expiry of zero.
                await self._client.set(self._prefix + key, _as_bytes(value), px=max(1, round(ttl * 1000)))
        except redis.exceptions.RedisError as exc:
            raise ServiceUnavailableError(f"cache unavailable: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


CACHE_BACKENDS: Mapping[str, Callable[[Settings], Cache]] = {
    "sqlite": lambda settings: SQLiteCache(settings.state_path),
    "redis": lambda settings: RedisCache(settings.redis_url),
}


def build_cache(settings: Settings) -> Cache:
    """Redis when `redis_url` is set (shared by every worker), else the SQLite state file."""
    return CACHE_BACKENDS["redis" if settings.redis_url else "sqlite"](settings)
