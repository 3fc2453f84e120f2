"""The local search index: pages and their passages in one SQLite file, searched with FTS5/BM25.

Pages are split into passages (`deepcite.search.passages`); each passage is
indexed with its page title, and BM25 weighs a title match higher than a match
in the passage text. The FTS table is contentless: the passage text lives once,
in `passages`, and the FTS index only holds the tokens.

One connection serves every thread, guarded by a lock; all SQLite work runs in
`asyncio.to_thread` so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

from deepcite.errors import DeepciteError
from deepcite.search.base import SearchHit
from deepcite.search.passages import split_passages

UpsertOutcome = Literal["added", "updated", "unchanged"]

_T = TypeVar("_T")

# BM25 column weights, in the FTS table's column order (title, text).
TITLE_WEIGHT = 2.0
TEXT_WEIGHT = 1.0
MAX_QUERY_TERMS = 32

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_document ON passages(document_id);
CREATE INDEX IF NOT EXISTS documents_by_title ON documents(title COLLATE NOCASE);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, text, content='', tokenize='porter unicode61'
);
"""

_SEARCH = f"""
SELECT p.id, p.document_id, p.text, -bm25(passages_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}) AS score
FROM passages_fts JOIN passages AS p ON p.id = passages_fts.rowid
WHERE passages_fts MATCH ?
ORDER BY score DESC
LIMIT ?
"""

# The pages a name titles, itself or disambiguated ("Dinosaur (film)"), shortest first.
_TITLED = """
SELECT id FROM documents
WHERE title = ?1 COLLATE NOCASE OR (title > ?2 COLLATE NOCASE AND title < ?3 COLLATE NOCASE)
ORDER BY length(title)
LIMIT ?4
"""
_FIRST_PASSAGE = "SELECT id, document_id, text FROM passages WHERE document_id = ? ORDER BY start LIMIT 1"
MAX_TITLED_PAGES = 3  # of each quoted name

_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"([^"]+)"')
MAX_PHRASE_WORDS = 8  # a longer quotation is searched by its words alone
# Words that match nearly every passage; dropping them lets BM25 rank on the rest.
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()  # noqa: SIM905 - reads better
)


class LocalIndexError(DeepciteError):
    """The local index file cannot be opened, read or written."""


@dataclasses.dataclass(frozen=True)
class IndexedPage:
    url: str
    title: str
    text: str


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: quoted terms, stopwords dropped, OR-combined.

    A phrase the text quotes is also searched as a phrase, stopwords and all, so a passage
    that has it ranks first: "For Against" (a band) is otherwise two stopwords. Returns ""
    when the text holds no searchable word.
    """
    quoted = (_WORD.findall(phrase.lower()) for phrase in _quoted(text))
    phrases = [" ".join(words) for words in quoted if 1 < len(words) <= MAX_PHRASE_WORDS]
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))
    terms = [*phrases, *([word for word in words if word not in _STOPWORDS] or words)]
    return " OR ".join(f'"{term}"' for term in dict.fromkeys(terms[:MAX_QUERY_TERMS]))


def _quoted(text: str) -> list[str]:
    """The phrases `text` quotes, spaced as words."""
    return [" ".join(phrase.split()) for phrase in _QUOTED.findall(text) if phrase.strip()]


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()


class LocalIndex:
    """A `SearchProvider` over the pages indexed in one SQLite file."""

    name = "local"

    def __init__(self, path: Path) -> None:
        """Open (creating if needed) the index at `path`; `await LocalIndex.open(path)` does it off the loop."""
        self.path = path
        self._connection = _connect(path)
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: Path) -> LocalIndex:
        return await asyncio.to_thread(cls, path)

    async def __aenter__(self) -> LocalIndex:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (instant; waits only for a query in flight). Idempotent."""
        with self._lock:
            self._connection.close()

    async def search(self, query: str, *, limit: int) -> list[SearchHit]:
        """The `limit` best passages for `query`, best first; `score` is -BM25 (higher is better).

        A name the query quotes also leads to the pages it titles, as a hyperlink would: their
        first passages come first. BM25 alone ranks "Dinosaur (film)" below the fossils' pages.
        """
        match = fts_query(query)
        if not match or limit <= 0:
            return []
        names = _quoted(query)
        return await self._run(lambda db: self._search(db, match, limit, names))

    def _search(self, db: sqlite3.Connection, match: str, limit: int, names: list[str]) -> list[SearchHit]:
        ranked = db.execute(_SEARCH, (match, limit)).fetchall()
        # A page that two names title comes once.
        titled = {row[0]: row for row in _titled_passages(db, names, score=ranked[0][3] if ranked else 0.0)}
        rows = [*titled.values(), *(row for row in ranked if row[0] not in titled)][:limit]
        document_ids = sorted({row[1] for row in rows})
        placeholders = ",".join("?" * len(document_ids))
        documents = {
            doc_id: (url, title, text)
            for doc_id, url, title, text in db.execute(
                f"SELECT id, url, title, text FROM documents WHERE id IN ({placeholders})", document_ids
            )
        }
        hits = []
        for passage_id, document_id, passage_text, score in rows:
            url, title, page_text = documents[document_id]
            hits.append(
                SearchHit(
                    url=url,
                    title=title,
                    text=passage_text,
                    score=float(score),
                    provider=self.name,
                    passage_id=passage_id,
                    page_text=page_text,
                )
            )
        return hits

    async def page(self, url: str) -> IndexedPage | None:
        row = await self._run(
            lambda db: db.execute("SELECT url, title, text FROM documents WHERE url = ?", (url,)).fetchone()
        )
        return IndexedPage(*row) if row is not None else None

    async def upsert(self, url: str, title: str, text: str, source: str) -> UpsertOutcome:
        """Add or replace one page; a page whose title and text did not change is left alone."""
        return await self._run(lambda db: _upsert(db, url, title, text, source))

    async def remove(self, url: str) -> bool:
        """Remove a page and its passages; False when it was not indexed."""
        return await self._run(lambda db: _remove(db, url))

    async def stats(self) -> tuple[int, int]:
        """(number of pages, number of passages)."""

        def count(db: sqlite3.Connection) -> tuple[int, int]:
            documents = db.execute("SELECT count(*) FROM documents").fetchone()[0]
            passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
            return int(documents), int(passages)

        return await self._run(count)

    async def is_empty(self) -> bool:
        row = await self._run(lambda db: db.execute("SELECT 1 FROM documents LIMIT 1").fetchone())
        return row is None

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                try:
                    return work(self._connection)
                except sqlite3.Error as exc:
                    raise LocalIndexError(f"local index {self.path}: {exc}") from exc

        return await asyncio.to_thread(locked)


def _titled_passages(db: sqlite3.Connection, names: list[str], score: float) -> list[tuple[int, int, str, float]]:
    """The first passage of each page that `names` title, as rows of `_SEARCH` scored `score`."""
    rows = []
    for name in names:
        for (document_id,) in db.execute(_TITLED, (name, f"{name} (", f"{name} )", MAX_TITLED_PAGES)).fetchall():
            passage = db.execute(_FIRST_PASSAGE, (document_id,)).fetchone()
            if passage is not None:
                rows.append((*passage, score))
    return rows


def _connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise LocalIndexError(f"local index {path} was written by a newer deepcite (schema {version})")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    except (OSError, sqlite3.Error) as exc:
        raise LocalIndexError(f"cannot open local index {path}: {exc}") from exc
    return db


def _upsert(db: sqlite3.Connection, url: str, title: str, text: str, source: str) -> UpsertOutcome:
    digest = content_hash(title, text)
    with _transaction(db):
        row = db.execute("SELECT id, content_hash FROM documents WHERE url = ?", (url,)).fetchone()
        if row is not None and row[1] == digest:
            return "unchanged"
        passages = split_passages(text)
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        if row is None:
            document_id = db.execute(
                "INSERT INTO documents (url, title, text, content_hash, source, indexed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (url, title, text, digest, source, now),
            ).lastrowid
        else:
            document_id = row[0]
            _delete_passages(db, document_id)
            db.execute(
                "UPDATE documents SET title = ?, text = ?, content_hash = ?, source = ?, indexed_at = ? WHERE id = ?",
                (title, text, digest, source, now, document_id),
            )
        for passage in passages:
            passage_id = db.execute(
                'INSERT INTO passages (document_id, start, "end", text) VALUES (?, ?, ?, ?)',
                (document_id, passage.start, passage.end, passage.text),
            ).lastrowid
            db.execute(
                "INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)",
                (passage_id, title, passage.text),
            )
    return "added" if row is None else "updated"


def _remove(db: sqlite3.Connection, url: str) -> bool:
    with _transaction(db):
        row = db.execute("SELECT id FROM documents WHERE url = ?", (url,)).fetchone()
        if row is None:
            return False
        _delete_passages(db, row[0])
        db.execute("DELETE FROM documents WHERE id = ?", (row[0],))
    return True


def _delete_passages(db: sqlite3.Connection, document_id: int) -> None:
    # A contentless FTS table forgets a row only when given the exact values it indexed.
    rows: Iterable[tuple[int, str, str]] = db.execute(
        "SELECT p.id, d.title, p.text FROM passages AS p JOIN documents AS d ON d.id = p.document_id"
        " WHERE p.document_id = ?",
        (document_id,),
    ).fetchall()
    db.executemany("INSERT INTO passages_fts (passages_fts, rowid, title, text) VALUES ('delete', ?, ?, ?)", rows)
    db.execute("DELETE FROM passages WHERE document_id = ?", (document_id,))


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
