"""`deepcite ask --base-url` against a real server: streamed answer, raw JSON, schemas, API errors.

The client runs as a user runs it (a separate process) on an empty home folder; that the
folder stays empty shows nothing was loaded or indexed in-process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
from bench.harness import free_port
from e2e_server import API_KEY, RunningServer, launch

QUESTION = "Which NFL team represented the AFC at Super Bowl 50?"
SUPER_BOWL = "https://en.wikipedia.org/wiki/Super_Bowl_50"


def ask(home: Path, base_url: str, *args: str, api_key: str | None = API_KEY) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    key = ["--api-key", api_key] if api_key else []
    env = {**os.environ, "DEEPCITE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "deepcite", "ask", "--base-url", base_url, *key, *args],
        env=env, capture_output=True, text=True, timeout=180,
    )


def test_ask_streams_a_remote_answer_then_its_sources(server: RunningServer, tmp_path: Path) -> None:
    home = tmp_path / "client-home"
    result = ask(home, server.base_url, QUESTION)
    assert result.returncode == 0, result.stderr
    answer, _, tables = result.stdout.partition("Basis")
    assert re.search(r"\[\d+\]", answer), answer
    assert "confidence" in tables and "Sources" in tables
    assert SUPER_BOWL in tables
    assert any(level in tables for level in ("low", "medium", "high"))
    assert "search:" in result.stderr, "research steps are shown as they happen"
    assert list(home.iterdir()) == [], "nothing was researched in-process"


def test_ask_json_prints_the_raw_completion(server: RunningServer, tmp_path: Path) -> None:
    # The SDK's own base URL form (ending in /v1) is accepted as well.
    result = ask(tmp_path, server.base_url + "/v1", "--json", "--model", "speed", QUESTION)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "speed"
    assert body["choices"][0]["message"]["annotations"]
    assert SUPER_BOWL in {c["url"] for field in body["basis"] for c in field["citations"]}


def test_ask_with_a_json_schema_file(server: RunningServer, tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"team": {"type": "string"}, "facts": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
        "required": ["team", "facts"],
        "additionalProperties": False,
    }
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema))
    raw = ask(tmp_path, server.base_url, "--json", "--json-schema", str(schema_file), QUESTION)
    assert raw.returncode == 0, raw.stderr
    value = json.loads(json.loads(raw.stdout)["choices"][0]["message"]["content"])
    jsonschema.validate(value, schema)
    shown = ask(tmp_path, server.base_url, "--json-schema", str(schema_file), QUESTION)
    assert shown.returncode == 0, shown.stderr
    answer = shown.stdout.partition("Basis")[0]
    jsonschema.validate(json.loads(answer), schema)  # the answer is printed as JSON, then the tables
    assert "facts.0" in shown.stdout or value["facts"] == []


def test_a_wrong_key_exits_1_with_the_api_message(server: RunningServer, tmp_path: Path) -> None:
    expected = httpx.get(server.base_url + "/v1/models", headers={"authorization": "Bearer wrong-key-1234"})
    assert expected.status_code == 401
    result = ask(tmp_path, server.base_url, QUESTION, api_key="wrong-key-1234")
    assert result.returncode == 1
    assert expected.json()["error"]["message"] in " ".join(result.stderr.split())
    assert result.stdout == ""
    missing = ask(tmp_path, server.base_url, "--json", QUESTION, api_key=None)
    assert missing.returncode == 1 and "API key" in missing.stderr


def test_an_unknown_model_or_unreachable_server_exits_1(server: RunningServer, tmp_path: Path) -> None:
    unknown = ask(tmp_path, server.base_url, "--model", "turbo", QUESTION)
    assert unknown.returncode == 1 and "turbo" in unknown.stderr
    nobody = ask(tmp_path, f"http://127.0.0.1:{free_port()}", QUESTION)
    assert nobody.returncode == 1 and "cannot reach" in nobody.stderr


@pytest.fixture
def one_per_minute(tmp_path: Path) -> Iterator[RunningServer]:
    running = launch(tmp_path / "limited", rate_limit="1/minute")
    yield running
    running.stop()


def test_the_rate_limit_exits_1_with_the_api_message(one_per_minute: RunningServer, tmp_path: Path) -> None:
    first = ask(tmp_path, one_per_minute.base_url, QUESTION)
    assert first.returncode == 0, first.stderr
    refused = ask(tmp_path, one_per_minute.base_url, QUESTION)
    assert refused.returncode == 1
    assert "Rate limit reached" in refused.stderr and "try again" in refused.stderr
