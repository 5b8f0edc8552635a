"""Positions on the key-value substrate: the keys they live in, and the in-place upgrade
of storage written before them (format 1)."""

from __future__ import annotations

import pytest
from agentstore import SchemaVersionError
from agentstore.doorbell import Doorbell
from agentstore.driver import OpenContext
from agentstore.handles import StreamView, WriterLog
from agentstore.kv import KvLogStore, MemoryKeyValue, keys, open_kv_stores
from agentstore.kv.primitives import Lifetime
from agentstore.kv.upgrade import _position_log

LOGS = frozenset({"logs", "audit"})


def logs_of(kv: MemoryKeyValue, *, create: bool = True) -> KvLogStore:
    stores = open_kv_stores(kv, OpenContext(LOGS, create=create), location="here")
    assert isinstance(stores.logs, KvLogStore)
    return stores.logs


def downgrade(kv: MemoryKeyValue) -> None:
    """Rewrite ``kv`` as format 1 left it: entries without positions, no feed keys."""
    writes: dict[bytes, bytes | None] = {keys.VERSION_KEY: keys.FORMAT_1, keys.POSITION: None}
    for k, raw in kv.scan(b"", b"\xff", 1_000_000):
        if k[:1] in (keys.FEED, keys.STREAM):
            writes[k] = None
        elif k[:1] == keys.ENTRY:
            e = keys.unpack_entry("s", "w", 1, raw)
            assert e is not None
            prev = e.prev_hash or b""
            writes[k] = bytes((len(prev),)) + prev + bytes((32,)) + e.content_hash + e.payload
    assert kv.commit({}, writes)


def test_each_entry_has_a_feed_key_and_a_stream_key_committed_with_it() -> None:
    kv = MemoryKeyValue()
    logs = logs_of(kv)
    entries = WriterLog(logs, Doorbell(), "s", "w").append_many([b"a", b"b"])
    assert [e.position for e in entries] == [1, 2]
    assert keys.unpack_int(kv.get(keys.POSITION)) == 2
    feed = kv.scan(keys.FEED, keys.prefix_end(keys.FEED), 10)
    assert [keys.unpack_event(i, raw) for i, (_, raw) in enumerate(feed, 1)] == [
        (e.stream, e.writer, e.seq, e.content_hash, e.position) for e in entries
    ]
    stream = kv.scan(keys.STREAM, keys.prefix_end(keys.STREAM), 10)
    assert [keys.unpack_member(raw) for _, raw in stream] == [("w", 1), ("w", 2)]


def test_a_format_1_store_is_upgraded_in_place_in_key_order() -> None:
    kv = MemoryKeyValue()
    logs = logs_of(kv)
    WriterLog(logs, Doorbell(), "b", "w").append_many([b"b1", b"b2"])
    WriterLog(logs, Doorbell(), "a", "w").append(b"a1")
    WriterLog(logs, Doorbell(), "a", "v").append(b"a-v")
    downgrade(kv)
    assert all(e.position == 0 for e in logs._entries("b", "w", 0))

    with pytest.raises(SchemaVersionError, match="create=True"):
        logs_of(kv, create=False)
    assert kv.get(keys.VERSION_KEY) == keys.FORMAT_1  # nothing upgraded without create

    upgraded = logs_of(kv)
    assert kv.get(keys.VERSION_KEY) == keys.FORMAT
    order = [(e.stream, e.writer, e.seq, e.position) for e in upgraded._feed(0, None)]
    assert order == [("a", "v", 1, 1), ("a", "w", 1, 2), ("b", "w", 1, 3), ("b", "w", 2, 4)]
    assert [e.payload for e in StreamView(upgraded, "b").entries()] == [b"b1", b"b2"]
    log = WriterLog(upgraded, Doorbell(), "b", "w")
    assert log.verify() == 2
    assert log.append(b"b3").position == 5
    logs_of(kv)  # opening again changes nothing
    assert upgraded._position() == 5


def test_an_interrupted_upgrade_resumes_without_positioning_an_entry_twice() -> None:
    kv = MemoryKeyValue()
    WriterLog(logs_of(kv), Doorbell(), "s", "w").append_many([b"1", b"2", b"3"])
    downgrade(kv)
    # Position one log's entries, as an upgrade stopped before the format mark would.
    _position_log(Lifetime(kv, "here"), "s", "w")
    assert kv.get(keys.VERSION_KEY) == keys.FORMAT_1
    logs = logs_of(kv)
    assert [e.position for e in logs._feed(0, None)] == [1, 2, 3]
    assert logs._position() == 3
