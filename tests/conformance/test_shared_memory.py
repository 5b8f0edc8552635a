"""The persistence and sharing contract tests, run against a persistent in-process driver.

The memory driver is not persistent, so on it those tests skip; here they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agentstore import Registry, StorePolicy
from agentstore.conformance import AllContracts
from shared_memory_driver import SHARED, drop

REGISTRY = Registry(load_entry_points=False)
REGISTRY.register(SHARED)


class TestSharedMemoryConformance(AllContracts):
    registry = REGISTRY

    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> Iterator[StorePolicy]:
        key = str(tmp_path)
        yield StorePolicy("shared", sections={"shared": {"key": key}})
        drop(key)
