"""agentstore-redis's primitives keep the key-value substrate's contract: the same tests as
the reference MemoryKeyValue and agentstore-tiny (tests/kv/test_kv_primitives.py), here on
the real Redis server, plus what only a server shows (its errors, another client's view)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentstore import BackendUnavailable, StoreError
from agentstore.kv import KeyValue
from agentstore_redis.config import RedisConfig
from agentstore_redis.keyvalue import RedisKeyValue

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kv"))
# Collected here too, with the `kv` fixture below: one contract, three implementations.
from test_kv_primitives import (
    test_commit_applies_all_or_nothing_on_its_expectations,
    test_commit_is_linearizable_with_concurrent_gets,
    test_get_put_delete_round_trip_any_bytes,
    test_scan_is_ordered_bounded_and_limited,
)

__all__ = [
    "test_commit_applies_all_or_nothing_on_its_expectations",
    "test_commit_is_linearizable_with_concurrent_gets",
    "test_get_put_delete_round_trip_any_bytes",
    "test_scan_is_ordered_bounded_and_limited",
]


@pytest.fixture
def kv(redis_prefix: str) -> Iterator[KeyValue]:
    store = RedisKeyValue(RedisConfig(prefix=redis_prefix))
    assert isinstance(store, KeyValue)
    yield store
    store.close()


def test_two_clients_see_one_commit_whole(redis_prefix: str) -> None:
    a = RedisKeyValue(RedisConfig(prefix=redis_prefix))
    b = RedisKeyValue(RedisConfig(prefix=redis_prefix))
    try:
        assert a.commit({b"k": None}, {b"k": b"1", b"j": b"1"})
        assert not b.commit({b"k": None}, {b"k": b"2"})  # a's write is b's expectation
        assert b.commit({b"k": b"1"}, {b"k": b"2", b"j": None})
        assert (a.get(b"k"), a.get(b"j")) == (b"2", None)
        assert a.scan(b"", b"\xff", 10) == [(b"k", b"2")]
    finally:
        a.close()
        b.close()


def test_errors_name_host_port_and_prefix_never_the_password(redis_prefix: str) -> None:
    url = "redis://app:hunter2@127.0.0.1:1/0"
    kv = RedisKeyValue(RedisConfig.model_validate({"url": url, "connect_timeout": 1.0}))
    with pytest.raises(BackendUnavailable) as info:
        kv.get(b"k")
    assert "127.0.0.1:1" in str(info.value) and "'agentstore:'" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value.__cause__, Exception)
    kv.close()

    up = RedisKeyValue(RedisConfig(prefix=redis_prefix))
    try:
        up.redis.set(up.keys[1], b"not a hash")  # the server refuses HGET on a string
        with pytest.raises(StoreError, match="refused a command") as refused:
            up.get(b"k")
        assert not isinstance(refused.value, BackendUnavailable)
    finally:
        up.redis.delete(up.keys[1])
        up.close()
