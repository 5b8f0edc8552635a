"""Fixtures for the sqlite driver tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import agentstore
import pytest
from sqlite_helpers import open_file_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db: Path) -> Iterator[agentstore.Store]:
    with open_file_store(db) as s:
        yield s
