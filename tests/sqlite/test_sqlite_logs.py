"""Log behaviour that needs SQLite itself: failed batches, bad input, the doorbell."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import agentstore
import pytest
from agentstore import CommitEvent, InvalidInput, StoreError
from sqlite_helpers import open_file_store


def _refuse_payload(db: Path, payload: bytes) -> None:
    """Make SQLite abort any insert of ``payload``, as a full disk or I/O error would."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON agentstore_log_rows "
        f"WHEN NEW.payload = x'{payload.hex()}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.close()


def test_a_batch_that_fails_midway_leaves_nothing(store: agentstore.Store, db: Path) -> None:
    log = store.log("s", writer="w")
    log.append_many([b"one", b"two"])
    events: list[CommitEvent] = []
    store.doorbell.subscribe(events.append)
    _refuse_payload(db, b"bad")
    with pytest.raises(StoreError, match="refused"):
        log.append_many([b"three", b"four", b"bad", b"six"])
    with pytest.raises(StoreError, match="refused"):
        log.append(b"bad")
    assert events == []  # nothing committed, nothing rung
    assert [e.payload for e in log.entries()] == [b"one", b"two"]
    # the remembered head was not moved by the failed calls
    assert log.append(b"three").seq == 3
    assert [e.seq for e in events] == [3]
    assert log.verify() == 3


def test_a_conflict_that_is_not_a_race_is_an_error_not_a_hang(
    store: agentstore.Store, db: Path
) -> None:
    log = store.log("s", writer="w")
    log.append(b"same")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE UNIQUE INDEX one_of_each ON agentstore_log_rows (payload)")
    conn.close()
    with pytest.raises(StoreError, match="conflicts with something other than a newer entry"):
        log.append(b"same")
    with pytest.raises(StoreError, match="at seq 2"):
        log.append_many([b"other", b"same"])
    assert log.append(b"other").seq == 2
    assert log.verify() == 2


def test_bad_input_is_refused_before_anything_is_stored(store: agentstore.Store) -> None:
    log = store.log("s", writer="w")
    with pytest.raises(InvalidInput):
        log.append_many([b"fine", "not bytes", b"fine"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        log.append(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        store.generation("")
    assert log.head() is None
    assert store.logs() == []


def test_reads_while_appending_in_the_same_thread(store: agentstore.Store) -> None:
    log = store.log("s", writer="w")
    log.append_many([b"%d" % i for i in range(5000)])
    seen = 0
    for entry in log.entries():  # a streaming read holds no transaction open ...
        if entry.seq % 1000 == 0:
            log.append(b"more")  # ... so appends made meanwhile commit at once
            other = open_file_store(store.policy.sections["sqlite"]["path"])
            assert other.log("s", writer="w").head() == log.head()
            other.close()
        seen += 1
    assert seen >= 5000
    assert log.verify() == 5005


def test_logs_lists_every_log_once(store: agentstore.Store) -> None:
    for stream in ("b", "a", "c"):
        for writer in ("y", "x"):
            store.log(stream, writer=writer).append_many([b"1", b"2", b"3"])
    store.audit.emit(agentstore.AuditEntry("x"))
    assert store.logs() == sorted(
        [(s, w) for s in "abc" for w in "xy"] + [("agentstore:audit", "audit")]
    )
