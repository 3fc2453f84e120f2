"""The `deepcite` command as a user runs it: a real process, a real home folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def deepcite(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEEPCITE_HOME": str(home), "DEEPCITE_API_KEYS": ""}
    return subprocess.run(
        [sys.executable, "-m", "deepcite", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_index_is_incremental_and_reports_counts(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "nested").mkdir(parents=True)
    (docs / "a.md").write_text("# Quokkas\n\nQuokkas live on Rottnest Island near Perth.\n")
    (docs / "nested" / "b.txt").write_text("The Zorblax Prize honours marine chemists.\n")
    first = deepcite(tmp_path / "home", "index", str(docs))
    assert first.returncode == 0, first.stderr
    assert "added 2, updated 0, unchanged 0, failed 0" in first.stdout
    (docs / "a.md").write_text("# Quokkas\n\nQuokkas are small marsupials of Rottnest Island.\n")
    second = deepcite(tmp_path / "home", "index", str(docs))
    assert "added 0, updated 1, unchanged 1, failed 0" in second.stdout


def test_index_of_a_missing_source_fails_clearly(tmp_path: Path) -> None:
    result = deepcite(tmp_path / "home", "index", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "nope" in result.stderr


def test_keys_are_created_listed_and_revoked(tmp_path: Path) -> None:
    created = deepcite(tmp_path, "keys", "create", "--name", "laptop")
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.split("id: ")[1].split()[0]
    key = created.stdout.split("key: ")[1].split()[0]
    listed = deepcite(tmp_path, "keys", "list")
    assert key_id in listed.stdout and "laptop" in listed.stdout
    assert key not in listed.stdout, "only the hash of a key is kept"
    assert key not in (tmp_path / "state.sqlite3").read_bytes().decode("latin-1")
    assert deepcite(tmp_path, "keys", "revoke", key_id).returncode == 0
    assert deepcite(tmp_path, "keys", "revoke", key_id).returncode == 1


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    result = deepcite(tmp_path, "serve", "--host", "0.0.0.0", "--port", "9")
    assert result.returncode == 2
    assert "without API keys" in result.stderr


@pytest.mark.slow
def test_ask_streams_an_answer_then_its_sources(tmp_path: Path) -> None:
    result = deepcite(tmp_path, "ask", "Where was Super Bowl 50 played?")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout
    assert "https://en.wikipedia.org/wiki/Super_Bowl_50" in result.stdout
    assert "confidence" in result.stdout


@pytest.mark.slow
def test_ask_json_prints_the_completion_researched_here(tmp_path: Path) -> None:
    result = deepcite(tmp_path, "ask", "--json", "--model", "speed", "Where was Super Bowl 50 played?")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["object"] == "chat.completion" and body["model"] == "speed"
    assert body["choices"][0]["message"]["content"] and body["basis"][0]["field"] == "content"
    unknown = deepcite(tmp_path, "ask", "--model", "turbo", "Where was Super Bowl 50 played?")
    assert unknown.returncode == 1 and "turbo" in unknown.stderr
