"""verify on the key-value substrate: checked against each log's recorded head, so a
truncation, an entry past the head, an edit or a malformed record is caught."""

from __future__ import annotations

import pytest
from agentstore import ChainBroken, Doorbell, StoreError, WriterLog, chain_hash
from agentstore.driver import OpenContext
from agentstore.kv import MemoryKeyValue, keys, open_kv_stores
from agentstore.kv.logs import KvLogStore

S, W = "conv", "alice"


def _setup(n: int = 5) -> tuple[MemoryKeyValue, KvLogStore, WriterLog]:
    kv = MemoryKeyValue()
    stores = open_kv_stores(kv, OpenContext(frozenset({"logs"})), location="test")
    assert isinstance(stores.logs, KvLogStore)
    log = WriterLog(stores.logs, Doorbell(), S, W)
    log.append_many([f"e{i}".encode() for i in range(1, n + 1)])
    WriterLog(stores.logs, Doorbell(), S, "bob").append(b"untouched")
    return kv, stores.logs, log


def _entry_key(seq: int, writer: str = W) -> bytes:
    return keys.key(keys.ENTRY, S, writer) + keys.seq_bytes(seq)


def _broken(log: WriterLog) -> ChainBroken:
    with pytest.raises(ChainBroken) as info:
        log.verify()
    return info.value


def test_deleting_the_last_entry_is_caught_as_truncation() -> None:
    kv, _, log = _setup()
    assert kv.commit({}, {_entry_key(5): None})
    err = _broken(log)
    assert (err.seq, err.detail) == (5, "entry 5 missing: the log was truncated")


def test_deleting_the_last_entries_names_the_first_missing() -> None:
    kv, _, log = _setup()
    assert kv.commit({}, {_entry_key(4): None, _entry_key(5): None})
    err = _broken(log)
    assert (err.seq, err.detail) == (4, "entries 4..5 missing: the log was truncated")


def test_a_log_whose_every_entry_was_deleted_is_still_listed_and_fails() -> None:
    kv, logs, log = _setup(3)
    assert kv.commit({}, {_entry_key(s): None for s in (1, 2, 3)})
    assert (S, W) in list(logs._logs())
    assert _broken(log).seq == 1
    with pytest.raises(ChainBroken, match="missing"):
        log.head()


def test_an_entry_past_the_recorded_head_is_caught() -> None:
    kv, _, log = _setup(2)
    extra = log.head()
    assert extra is not None
    forged = keys.pack_entry(extra.content_hash, b"\x00" * 32, b"e3")
    assert kv.commit({}, {_entry_key(3): forged})
    err = _broken(log)
    assert err.seq == 3  # the forged hash fails first; a valid one would lie past the head


def test_a_valid_entry_past_the_recorded_head_is_caught() -> None:
    kv, _, log = _setup(2)
    head = log.head()
    assert head is not None
    valid = keys.pack_entry(head.content_hash, chain_hash(head.content_hash, b"e3"), b"e3")
    assert kv.commit({}, {_entry_key(3): valid})
    err = _broken(log)
    assert err.seq == 3
    assert "past the log's recorded head" in err.detail


def test_an_edited_payload_is_caught_and_other_logs_still_verify() -> None:
    kv, _, log = _setup()
    stored = kv.get(_entry_key(3))
    assert stored is not None
    assert kv.commit({}, {_entry_key(3): stored[:-2] + b"XX"})
    assert _broken(log).seq == 3
    assert WriterLog(log._store, Doorbell(), S, "bob").verify() == 1


def test_a_malformed_entry_or_head_is_caught_not_crashed_on() -> None:
    kv, _, log = _setup()
    assert kv.commit({}, {_entry_key(2): b"\xff"})
    assert _broken(log).seq == 2
    kv2, _, log2 = _setup()
    assert kv2.commit({}, {keys.key(keys.HEAD, S, W): b"short"})
    assert "malformed" in _broken(log2).detail
    with pytest.raises(ChainBroken, match="malformed"):
        log2.append(b"more")


def test_an_append_after_a_deletion_does_not_hide_it() -> None:
    kv, _, log = _setup()
    assert kv.commit({}, {_entry_key(5): None})
    assert log.append(b"after").seq == 6  # built on the recorded head, not the last entry
    assert _broken(log).seq == 5


def test_the_tamper_hook_edits_without_moving_the_head() -> None:
    _, logs, log = _setup()
    entries = list(log.entries())
    logs.tamper(S, W, 3, entries[2]._replace(payload=b"forged"))
    assert _broken(log).seq == 3
    logs.tamper(S, W, 3, entries[2])
    assert log.verify() == 5
    logs.tamper(S, W, 5, None)
    assert "missing" in _broken(log).detail


def test_entries_stream_a_page_at_a_time() -> None:
    kv = MemoryKeyValue()
    scans: list[int] = []
    inner_scan = kv.scan

    def counting_scan(start: bytes, end: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        page = list(inner_scan(start, end, limit))
        scans.append(len(page))
        return page

    kv.scan = counting_scan  # type: ignore[method-assign]
    stores = open_kv_stores(kv, OpenContext(frozenset({"logs"})), location="test")
    assert isinstance(stores.logs, KvLogStore)
    log = WriterLog(stores.logs, Doorbell(), S, W)
    log.append_many([b"x"] * 2500)
    it = log.entries(after=10)
    assert next(it).seq == 11
    assert scans == [1000]  # one page read so far, not the whole log
    assert [e.seq for e in it] == list(range(12, 2501))
    assert scans == [1000, 1000, 490]
    assert log.verify() == 2500


def test_closing_refuses_every_later_call_and_closes_the_primitives_once() -> None:
    closed: list[int] = []
    kv = MemoryKeyValue()
    kv.close = lambda: closed.append(1)  # type: ignore[method-assign]
    stores = open_kv_stores(kv, OpenContext(frozenset({"logs", "generations"})), location="here")
    log = WriterLog(stores.logs, Doorbell(), S, W)  # type: ignore[arg-type]
    it = iter(log.entries())
    stores.close()
    stores.close()
    assert closed == [1]
    with pytest.raises(StoreError, match="here: the store is closed"):
        log.append(b"x")
    with pytest.raises(StoreError, match="closed"):
        next(it)


def test_a_value_that_is_not_bytes_is_caught_as_a_broken_chain() -> None:
    kv, _, log = _setup()
    kv._data[_entry_key(2)] = "e2"  # type: ignore[assignment]  # a driver handing back text
    assert _broken(log).seq == 2
