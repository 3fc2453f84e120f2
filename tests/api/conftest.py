"""Fixtures of the API tests; the harness itself lives in `api_harness`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from api_harness import AppUnderTest, MakeApp, ScriptedEngine, Step

from deepcite.api.app import create_app
from deepcite.config import Settings
from deepcite.store.keys import KeyStore


@pytest.fixture
def make_app(tmp_path: Path) -> MakeApp:
    """Build an app around a scripted engine: `make_app(script, heartbeat_seconds=..., **settings)`."""

    def make(script: Sequence[Step] | None = None, *, heartbeat_seconds: float = 5.0, **values: Any) -> AppUnderTest:
        settings = Settings(home=tmp_path, **values)
        key_store = KeyStore(settings.state_path)
        engine = ScriptedEngine(script)
        app = create_app(settings, engine, key_store, heartbeat_seconds=heartbeat_seconds)
        return AppUnderTest(app=app, engine=engine, settings=settings, key_store=key_store)

    return make
