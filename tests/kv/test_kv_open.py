"""Opening storage through the substrate, and the rules its read-modify-writes keep."""

from __future__ import annotations

import agentstore
import pytest
from agentstore import (
    AgentId,
    BackendUnavailable,
    InvalidInput,
    NotFound,
    Registry,
    SchemaVersionError,
    StorePolicy,
)
from agentstore.capabilities import MAX_INT
from agentstore.driver import OpenContext
from agentstore.kv import MemoryKeyValue, keys, open_kv_stores
from kv_memory_driver import shared

ALL = frozenset({"generations", "rate_limits", "lifecycle"})


def test_create_false_on_storage_holding_no_store_raises_and_writes_nothing() -> None:
    kv = MemoryKeyValue()
    with pytest.raises(BackendUnavailable, match="somewhere holds no agentstore store"):
        open_kv_stores(kv, OpenContext(ALL, create=False), location="somewhere")
    assert len(kv) == 0


def test_create_false_opens_storage_that_holds_a_store() -> None:
    kv = MemoryKeyValue()
    open_kv_stores(kv, OpenContext(ALL), location="here").close()
    stores = open_kv_stores(kv, OpenContext(ALL, create=False), location="here")
    assert stores.generations is not None and stores.generations.bump("g") == 1


def test_create_false_through_the_facade(kv_policy: StorePolicy, kv_registry: Registry) -> None:
    with pytest.raises(BackendUnavailable):
        agentstore.open(kv_policy, registry=kv_registry, create=False)
    assert len(shared(kv_policy.sections["kvmem"]["key"])) == 0
    with agentstore.open(kv_policy, registry=kv_registry) as store:
        store.generation("g").bump()
    with agentstore.open(kv_policy, registry=kv_registry, create=False) as store:
        assert store.generation("g").current() == 1


def test_a_store_in_an_unknown_format_is_refused() -> None:
    kv = MemoryKeyValue()
    assert kv.commit({}, {keys.VERSION_KEY: b"agentstore-kv 99"})
    with pytest.raises(SchemaVersionError, match="format"):
        open_kv_stores(kv, OpenContext(ALL), location="here")


def test_a_rate_limit_total_past_the_int64_limit_is_refused_and_stores_nothing() -> None:
    stores = open_kv_stores(MemoryKeyValue(), OpenContext(ALL), location="here")
    limits = stores.rate_limits
    assert limits is not None
    assert limits.increment("k", MAX_INT, 60.0) == MAX_INT
    with pytest.raises(InvalidInput, match="limit"):
        limits.increment("k", 1, 60.0)
    assert limits.current("k") == MAX_INT


def test_a_heartbeat_never_brings_back_an_agent_deregistered_meanwhile() -> None:
    kv = MemoryKeyValue()
    stores = open_kv_stores(kv, OpenContext(ALL), location="here")
    lifecycle = stores.lifecycle
    assert lifecycle is not None
    agent = AgentId.new()
    lifecycle.register(agent)
    real_get = kv.get

    def get_then_deregister(key: bytes) -> bytes | None:
        value = real_get(key)
        if key.startswith(keys.AGENT):  # another store deregisters between read and commit
            kv.commit({}, {key: None})
        return value

    kv.get = get_then_deregister  # type: ignore[method-assign]
    with pytest.raises(NotFound):
        lifecycle.heartbeat(agent)
    kv.get = real_get  # type: ignore[method-assign]
    with pytest.raises(NotFound):
        lifecycle.info(agent)
