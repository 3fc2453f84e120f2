"""The API key store: hashes only, verify, list, revoke, shared between processes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from deepcite.store.keys import KeyStore


def test_created_key_verifies_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.sqlite3"
    store = KeyStore(path)
    key_id, key = store.create("laptop")
    assert key.startswith("dc-") and len(key) > 40
    assert store.verify(key) == key_id
    assert store.verify(key + "x") is None
    assert store.verify("") is None
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM api_keys").fetchall()
    dump = repr(rows)
    assert key not in dump
    assert hashlib.sha256(key.encode()).hexdigest() in dump


def test_keys_are_distinct(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "s.sqlite3")
    made = [store.create(f"k{i}") for i in range(5)]
    assert len({key_id for key_id, _ in made}) == 5
    assert len({key for _, key in made}) == 5
    assert all(store.verify(key) == key_id for key_id, key in made)


def test_list_shows_names_and_state_but_no_secret(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "s.sqlite3")
    first_id, _ = store.create("first")
    second_id, _ = store.create("second")
    assert store.revoke(first_id)
    listed = store.list()
    assert [(k.id, k.name, k.active) for k in listed] == [(first_id, "first", False), (second_id, "second", True)]
    assert listed[0].revoked is not None and listed[0].revoked >= listed[0].created
    assert not hasattr(listed[0], "key_hash")


def test_revoked_key_no_longer_verifies(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "s.sqlite3")
    key_id, key = store.create("ci")
    assert store.revoke(key_id)
    assert store.verify(key) is None
    assert not store.revoke(key_id)  # already revoked
    assert not store.revoke("key_unknown")


def test_has_keys_counts_revoked_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "s.sqlite3")
    assert not store.has_keys()
    key_id, _ = store.create("ci")
    assert store.has_keys()
    store.revoke(key_id)
    assert store.has_keys()


def test_another_store_on_the_same_file_sees_the_keys(tmp_path: Path) -> None:
    # The CLI and the server open the file separately.
    path = tmp_path / "s.sqlite3"
    key_id, key = KeyStore(path).create("cli")
    server_side = KeyStore(path)
    assert server_side.verify(key) == key_id
    KeyStore(path).revoke(key_id)
    assert server_side.verify(key) is None
