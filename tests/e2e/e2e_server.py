"""The e2e tests start servers with the same launcher the benchmarks use."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.harness import API_KEY, RunningServer, ServerFailed, start_server

__all__ = ["API_KEY", "RunningServer", "launch"]


def launch(home: Path, **settings: str) -> RunningServer:
    try:
        return start_server(home, **settings)
    except ServerFailed as exc:
        pytest.fail(str(exc))
