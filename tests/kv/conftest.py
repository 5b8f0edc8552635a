"""Stores on the key-value substrate for the tests of tests/kv."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agentstore import Registry, StorePolicy
from kv_memory_driver import drop, registry


@pytest.fixture
def kv_registry() -> Registry:
    return registry()


@pytest.fixture
def kv_policy(tmp_path: Path) -> Iterator[StorePolicy]:
    """A fresh ``kvmem`` store: every open of this policy shares one MemoryKeyValue."""
    key = str(tmp_path)
    yield StorePolicy("kvmem", sections={"kvmem": {"key": key}})
    drop(key)


@pytest.fixture
def tiny_policy(tmp_path: Path) -> StorePolicy:
    """A fresh store of the ``tiny`` example driver (a SQLite file), shareable by processes."""
    return StorePolicy("tiny", sections={"tiny": {"path": str(tmp_path / "tiny.db")}})
