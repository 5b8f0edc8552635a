"""Redaction on SQLite: the erased bytes are gone from the database file and its -wal."""

from __future__ import annotations

import logging
import random
import sqlite3
from pathlib import Path

import agentstore
import pytest
from sqlite_helpers import open_file_store


def _secret(n: int) -> bytes:
    return b"SECRET-%06d-" % n


def _on_disk(db: Path) -> bytes:
    """Every byte of the database file and of its -wal file (if any)."""
    data = db.read_bytes()
    wal = Path(f"{db}-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def _checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def test_redacted_payloads_leave_the_file_and_the_wal(db: Path) -> None:
    rng = random.Random(7)
    with open_file_store(db) as store:
        written: dict[int, tuple[str, int]] = {}
        # Many logs written in turn, payloads of every size (overflow pages too): the
        # b-tree pages split and move rows around, and a split leaves old copies of rows
        # in the unused space of the page they left (SQLite zeroes none of it).
        for n in range(1, 2001):
            stream = f"s{rng.randrange(25)}"
            payload = _secret(n) + b"." * rng.choice([10, 100, 500, 6000])
            written[n] = (stream, store.log(stream, writer="w").append(payload).seq)
        _checkpoint(db)
        data = db.read_bytes()
        stale = [n for n in written if data.count(_secret(n)) > 1]
        assert stale, "no row left a copy behind: the case this test is for did not occur"
        targets = stale[:10] + rng.sample([n for n in written if n not in stale], 10)
        for n in targets:
            stream, seq = written[n]
            redacted = store.log(stream, writer="w").redact(seq, reason="erasure request")
            assert (redacted.payload, redacted.redacted, redacted.seq) == (b"", True, seq)
        data = _on_disk(db)
        for n in targets:
            assert _secret(n) not in data, n
        kept = [n for n in written if n not in targets]
        assert all(_secret(n) in data for n in kept[:50])  # the scan does find what is there
        for stream in {written[n][0] for n in targets}:
            log = store.log(stream, writer="w")
            result = log.verify()
            assert result == log.head().seq  # type: ignore[union-attr]
            assert result.redacted == sum(1 for n in targets if written[n][0] == stream)
        # each redaction is on the audit chain, naming the entry, never the payload
        records = [r for r in store.audit.records() if r.entry.action == "redact"]
        assert len(records) == len(targets)
        assert all(b"SECRET" not in repr(r).encode() for r in records)


def test_a_redacted_entry_reads_back_marked_and_appends_continue(
    store: agentstore.Store, db: Path
) -> None:
    log = store.log("s", writer="w")
    before = log.append_many([b"one", b"two", b"three"])
    redacted = log.redact(2, reason="asked")
    assert redacted == before[1]._replace(payload=b"", redacted=True)
    assert [(e.payload, e.redacted) for e in log.entries()] == [
        (b"one", False),
        (b"", True),
        (b"three", False),
    ]
    assert log.redact(2, reason="again") == redacted  # a no-op, returning it
    after = log.append(b"four")
    assert after.prev_hash == before[2].content_hash
    result = log.verify()
    assert (int(result), result.redacted) == (4, 1)
    # the feed still lists it, with its position and hash (position 4: the audit record)
    mine = [(e.seq, e.content_hash, e.position) for e in store.feed() if e.stream == "s"]
    assert mine == [(e.seq, e.content_hash, e.position) for e in [*before, after]]
    assert after.position == 5
    with pytest.raises(agentstore.NotFound):
        log.redact(9, reason="no such entry")


def test_verify_catches_a_redacted_row_that_kept_its_payload(
    store: agentstore.Store, db: Path
) -> None:
    log = store.log("s", writer="w")
    log.append_many([b"one", b"two", b"three"])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE agentstore_log_rows SET redacted = 1 WHERE seq = 2")
    conn.close()
    with pytest.raises(agentstore.ChainBroken) as info:
        log.verify()
    assert info.value.seq == 2


def test_verify_still_checks_links_through_a_redacted_entry(
    store: agentstore.Store, db: Path
) -> None:
    log = store.log("s", writer="w")
    log.append_many([b"one", b"two", b"three"])
    log.redact(2, reason="asked")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE agentstore_log_rows SET content_hash = zeroblob(32) WHERE seq = 2")
    conn.close()
    with pytest.raises(agentstore.ChainBroken) as info:
        log.verify()
    assert info.value.seq == 3  # entry 3's prev_hash no longer names entry 2's hash


def test_a_long_chain_with_redactions_verifies_by_chunks_and_in_one_pass(db: Path) -> None:
    from agentstore.sql import SqlLogStore
    from agentstore_sqlite.backend import open_file
    from agentstore_sqlite.logs import SqliteLogStore

    with open_file_store(db) as store:
        log = store.log("s", writer="w")
        for start in range(0, 12_000, 3000):
            log.append_many([b"%d" % i for i in range(start, start + 3000)])
        for seq in (1, 5000, 10_000, 12_000):
            log.redact(seq, reason="asked")
    backend = open_file(db)
    try:
        logs = SqliteLogStore(backend, verify_workers=1)
        fast = logs._verify("s", "w")  # read through a snapshot (12,000 >= 10,000)
        single = SqlLogStore._verify(logs, "s", "w")
        assert (int(fast), fast.redacted) == (int(single), single.redacted) == (12_000, 4)
    finally:
        backend.close()


def test_a_reader_holding_the_wal_is_logged_not_raised(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_file_store(db, busy_timeout=0.2) as store:
        log = store.log("s", writer="w")
        log.append_many([_secret(1), _secret(2)])
        reader = sqlite3.connect(db, isolation_level=None)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM agentstore_log_rows").fetchone()
            with caplog.at_level(logging.WARNING, logger="agentstore.sqlite"):
                entry = log.redact(1, reason="asked")
            assert entry.redacted
            assert "until the next VACUUM and complete checkpoint" in caplog.text
            assert "SECRET" not in caplog.text
        finally:
            reader.close()
        assert log.verify().redacted == 1
