"""The primitives' contract (docs/writing-a-driver.md, "On the key-value substrate"), checked
on the reference MemoryKeyValue and on the tiny example driver's SQLite table (and on Redis,
in tests/examples/test_redis_keyvalue.py)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentstore.kv import KeyValue, MemoryKeyValue
from agentstore_tiny import SqliteKeyValue


def _memory(tmp: Path) -> KeyValue:
    return MemoryKeyValue()


def _sqlite(tmp: Path) -> KeyValue:
    return SqliteKeyValue(str(tmp / "kv.db"), True)


@pytest.fixture(params=[_memory, _sqlite], ids=["memory", "tiny-sqlite"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyValue]:
    make: Callable[[Path], KeyValue] = request.param
    store = make(tmp_path)
    assert isinstance(store, KeyValue)
    yield store
    store.close()


def test_get_put_delete_round_trip_any_bytes(kv: KeyValue) -> None:
    keys = [b"", b"\x00", b"\xff", b"a\x00b", bytes(range(256))]
    assert kv.commit({}, {k: k[::-1] + b"\x00" for k in keys})
    for k in keys:
        assert kv.get(k) == k[::-1] + b"\x00"
    assert kv.commit({}, {b"\x00": None, b"never": None})  # deleting nothing is fine
    assert kv.get(b"\x00") is None
    assert kv.commit({}, {b"empty": b""})
    assert kv.get(b"empty") == b""  # an empty value is a value, not an absence


def test_commit_applies_all_or_nothing_on_its_expectations(kv: KeyValue) -> None:
    assert kv.commit({b"a": None}, {b"a": b"1", b"b": b"1"})
    assert not kv.commit({b"a": None}, {b"a": b"2", b"c": b"2"})  # a is no longer absent
    assert not kv.commit({b"a": b"1", b"b": b"0"}, {b"c": b"3"})  # one of two fails
    assert (kv.get(b"a"), kv.get(b"b"), kv.get(b"c")) == (b"1", b"1", None)
    assert kv.commit({b"a": b"1", b"b": b"1"}, {b"a": None, b"c": b"3"})
    assert (kv.get(b"a"), kv.get(b"c")) == (None, b"3")


def test_scan_is_ordered_bounded_and_limited(kv: KeyValue) -> None:
    keys = [b"a", b"a\x00", b"ab", b"a\x7f", b"a\x80", b"a\xff", b"b"]  # in byte order
    assert kv.commit({}, {k: b"v" + k for k in reversed(keys)})
    assert [k for k, _ in kv.scan(b"a", b"b", 100)] == keys[:-1]
    assert [k for k, _ in kv.scan(b"a\x00", b"a\x80", 100)] == [b"a\x00", b"ab", b"a\x7f"]
    assert list(kv.scan(b"a", b"b", 2)) == [(b"a", b"va"), (b"a\x00", b"va\x00")]
    assert list(kv.scan(b"c", b"d", 10)) == []


def test_commit_is_linearizable_with_concurrent_gets(kv: KeyValue) -> None:
    # The writer moves a, many others, then b, in each commit; a reader reading a then b
    # must never see a commit's a without its b (that would be half a commit).
    rounds = 3000 if isinstance(kv, MemoryKeyValue) else 300  # SQLite syncs every commit
    stop, seen = threading.Event(), []
    filler = [b"f%d" % j for j in range(50)]
    assert kv.commit({}, {b"a": b"0", b"b": b"0"})

    def read() -> None:
        while not stop.is_set():
            a, b = kv.get(b"a"), kv.get(b"b")
            assert a is not None and b is not None
            seen.append(int(b) >= int(a))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, rounds + 1):
            value = str(i).encode()
            assert kv.commit({}, {b"a": value, **dict.fromkeys(filler, value), b"b": value})
    finally:
        stop.set()
        reader.join(30)
        sys.setswitchinterval(old)
    assert seen and all(seen)
