"""The whole conformance suite, run against the key-value substrate on its in-memory
reference primitives (persistent within the process: stores opened on one key share it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agentstore import Registry, StorePolicy
from agentstore.conformance import AllContracts
from kv_memory_driver import KVMEM, drop

REGISTRY = Registry(load_entry_points=False)
REGISTRY.register(KVMEM)


class TestKvSubstrateConformance(AllContracts):
    registry = REGISTRY

    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> Iterator[StorePolicy]:
        key = str(tmp_path)
        yield StorePolicy("kvmem", sections={"kvmem": {"key": key}})
        drop(key)
