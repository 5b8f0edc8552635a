"""The memory driver, the reference semantics, against every contract (subclass route)."""

from __future__ import annotations

import pytest
from agentstore import StorePolicy
from agentstore.conformance import AllContracts


class TestMemoryConformance(AllContracts):
    @pytest.fixture
    def agentstore_policy(self) -> StorePolicy:
        return StorePolicy("memory")
