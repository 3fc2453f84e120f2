"""API keys made by `deepcite keys create`, kept in SQLite as SHA-256 hashes only.

The plaintext key is shown once, when it is created; afterwards a key can be
verified, listed (without its secret) and revoked. Methods are synchronous and
fast (one indexed query); the server calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

KEY_PREFIX = "dc-"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    revoked REAL
)
"""


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret. `created` and `revoked` are Unix times."""

    id: str
    name: str
    created: float
    revoked: float | None

    @property
    def active(self) -> bool:
        return self.revoked is None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per call: safe from any thread, and other
        # processes (the CLI) see each other's writes at once.
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(self, name: str) -> tuple[str, str]:
        """Make a key; return its id and the plaintext key, which is never stored."""
        key_id = "key_" + secrets.token_hex(6)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._connect() as db:
            db.execute(
                "INSERT INTO api_keys (id, name, key_hash, created) VALUES (?, ?, ?, ?)",
                (key_id, name, hash_key(key), time.time()),
            )
        return key_id, key

    def list(self) -> builtins.list[ApiKey]:
        with self._connect() as db:
            rows = db.execute("SELECT id, name, created, revoked FROM api_keys ORDER BY created").fetchall()
        return [ApiKey(id=r[0], name=r[1], created=r[2], revoked=r[3]) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key; False when no active key has this id."""
        with self._connect() as db:
            cursor = db.execute("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id))
        return cursor.rowcount > 0

    def verify(self, key: str) -> str | None:
        """The id of the active key `key`, or None."""
        with self._connect() as db:
            row = db.execute("SELECT id FROM api_keys WHERE key_hash = ? AND revoked IS NULL", (hash_key(key),)).fetchone()
        return None if row is None else str(row[0])

    def has_keys(self) -> bool:
        """Whether any key was ever made. Revoked keys count: revoking the last key
        must lock everyone out, not open the server to all."""
        with self._connect() as db:
            row = db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone()
        return row is not None
