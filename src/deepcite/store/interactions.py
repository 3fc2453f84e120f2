"""Conversations across requests: the turns of each answered interaction, by its `interaction_id`.

Every chat completion and task run stores its question and answer (after the earlier
turns it continued) under its interaction id; a request naming it as
`previous_interaction_id` gets those turns put before its own messages, so the
engine reads a follow-up ("and who was its first president?") with its subject.
Kept in the SQLite state file, or in Redis when `DEEPCITE_REDIS_URL` is set, like
task runs; a caller can only continue its own interactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import redis.asyncio

from deepcite.config import Settings
from deepcite.errors import InvalidRequestError
from deepcite.llm.base import ChatMessage

# Enough turns for follow-ups to find their subject, few enough to keep prompts short.
MAX_MESSAGES = 8
REDIS_TTL_SECONDS = 30 * 86_400
_REDIS_PREFIX = "deepcite:interaction:"


class Interactions(Protocol):
    async def save(self, interaction_id: str, owner: str, messages: list[ChatMessage]) -> None: ...

    async def load(self, interaction_id: str, owner: str) -> list[ChatMessage] | None:
        """The turns stored under `interaction_id`, or None (unknown, or another caller's)."""
        ...

    async def aclose(self) -> None: ...


def _encode(owner: str, messages: list[ChatMessage]) -> str:
    return json.dumps({"owner": owner, "messages": [{"role": m.role, "content": m.content} for m in messages]})


def _decode(text: str | bytes, owner: str) -> list[ChatMessage] | None:
    data = json.loads(text)
    if data.get("owner") != owner:
        return None
    return [ChatMessage(m["role"], m["content"]) for m in data["messages"]]


class SqliteInteractions:
    _SCHEMA = "CREATE TABLE IF NOT EXISTS interactions (id TEXT PRIMARY KEY, data TEXT NOT NULL, created REAL NOT NULL)"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(self._SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    async def save(self, interaction_id: str, owner: str, messages: list[ChatMessage]) -> None:
        await asyncio.to_thread(self._save, interaction_id, _encode(owner, messages))

    def _save(self, interaction_id: str, data: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO interactions (id, data, created) VALUES (?, ?, ?)",
                (interaction_id, data, time.time()),
            )

    async def load(self, interaction_id: str, owner: str) -> list[ChatMessage] | None:
        row = await asyncio.to_thread(self._load, interaction_id)
        return None if row is None else _decode(row, owner)

    def _load(self, interaction_id: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
        return None if row is None else str(row[0])

    async def aclose(self) -> None:
        """Nothing to release: connections live for one call."""


class RedisInteractions:
    def __init__(self, url: str) -> None:
        self._redis = redis.asyncio.Redis.from_url(url)

    async def save(self, interaction_id: str, owner: str, messages: list[ChatMessage]) -> None:
        await self._redis.set(_REDIS_PREFIX + interaction_id, _encode(owner, messages), ex=REDIS_TTL_SECONDS)

    async def load(self, interaction_id: str, owner: str) -> list[ChatMessage] | None:
        raw = await self._redis.get(_REDIS_PREFIX + interaction_id)
        return None if raw is None else _decode(raw, owner)

    async def aclose(self) -> None:
        await self._redis.aclose()


def build_interactions(settings: Settings) -> Interactions:
    if settings.redis_url:
        return RedisInteractions(settings.redis_url)
    return SqliteInteractions(settings.state_path)


def answered_turns(messages: list[ChatMessage], answer: str) -> list[ChatMessage]:
    """What an interaction stores: its user and assistant turns and the answer, the latest kept."""
    turns = [m for m in messages if m.role != "system"] + [ChatMessage("assistant", answer)]
    return turns[-MAX_MESSAGES:]


async def earlier_turns(interactions: Interactions, previous_id: str | None, owner: str) -> list[ChatMessage]:
    """The turns a request continues; a 400 naming `previous_interaction_id` when there are none to continue."""
    if not previous_id:
        return []
    turns = await interactions.load(previous_id, owner)
    if turns is None:
        raise InvalidRequestError(
            f"No interaction {previous_id!r} to continue.", param="previous_interaction_id", code="interaction_not_found"
        )
    return turns
