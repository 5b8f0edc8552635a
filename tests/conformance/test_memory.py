"""The memory driver, the reference semantics, against every contract (subclass route)."""

from __future__ import annotations

import pytest
from agentstore import StorePolicy
from agentstore.conformance import AllContracts


class TestMemoryConformance(AllContracts):
    @pytest.fixture
    def agentstore_policy(self) -> StorePolicy:
        return StorePolicy("memory")


def test_an_iterator_started_before_close_stops_at_it() -> None:
    import agentstore
    from agentstore import StoreError

    store = agentstore.open(StorePolicy("memory"))
    log = store.log("s", writer="w")
    log.append_many([b"x"] * 10)
    entries, logs = log.entries(), store.logs()
    assert next(entries).seq == 1
    store.close()
    with pytest.raises(StoreError, match="closed"):
        next(entries)
    with pytest.raises(StoreError, match="closed"):
        list(log.entries())
    assert list(logs) == [("s", "w")]  # logs() returned a list before close
