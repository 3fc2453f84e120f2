"""Fixtures for fetch tests: a real web site on a loopback port (see `local_site.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_site import LocalSite, serve_local_site


@pytest.fixture
def local_site() -> Iterator[LocalSite]:
    with serve_local_site() as site:
        yield site
