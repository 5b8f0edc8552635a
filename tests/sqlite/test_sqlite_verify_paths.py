"""Whichever way a sqlite verify reads the chain (through a snapshot, or in chunks shared
with worker processes), its verdict is the single pass's: the same count, or the same first
broken seq with the same detail. Edits made behind the store's back, CHECKs bypassed where
an intruder would bypass them."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from agentstore import ChainBroken
from agentstore.sql import SqlLogStore
from agentstore.sql.schema import ensure_schema
from agentstore_sqlite.backend import open_file
from agentstore_sqlite.logs import SqliteLogStore
from sqlite_helpers import leave_chunks_to_workers, record_fast_reads

LENGTH = 30
ROW = "INSERT INTO agentstore_log_rows (stream, writer, seq, payload, prev_hash, content_hash) "
Verdict = tuple[object, ...]


def _verdict(verify: Callable[[], int]) -> Verdict:
    try:
        return ("count", verify())
    except ChainBroken as exc:
        return ("broken", exc.seq, exc.detail)


def _build(db: Path) -> None:
    backend = open_file(db)
    try:
        ensure_schema(backend)
        SqliteLogStore(backend)._append_many("s", "w", [b"e%d" % i for i in range(1, LENGTH + 1)])
    finally:
        backend.close()


def _edit(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _both(db: Path, workers: int = 3) -> tuple[Verdict, Verdict]:
    """(the single pass's verdict, this driver's verify's verdict)."""
    backend = open_file(db)
    try:
        logs = SqliteLogStore(backend, verify_workers=workers)
        single = _verdict(lambda: SqlLogStore._verify(logs, "s", "w"))
        return single, _verdict(lambda: logs._verify("s", "w"))
    finally:
        backend.close()


@pytest.fixture(params=["snapshot", "parallel"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Makes verify read by snapshot or by chunks; the reads made, as (processes, whole)."""
    if request.param == "snapshot":
        monkeypatch.setattr(SqliteLogStore, "SNAPSHOT_MIN_ENTRIES", 2)
    else:
        monkeypatch.setattr(SqliteLogStore, "PARALLEL_MIN_ENTRIES", 2)
        monkeypatch.setattr(SqliteLogStore, "MIN_ENTRIES_PER_WORKER", 1)
        monkeypatch.setattr(SqliteLogStore, "CHUNK_ROWS", 4)
        leave_chunks_to_workers(monkeypatch)
    return record_fast_reads(monkeypatch)


HEAD_TO_28 = (
    "UPDATE agentstore_log_rows SET payload = 28, content_hash = (SELECT content_hash "
    "FROM agentstore_log_rows WHERE seq = 28) WHERE seq = 'head'"
)
# name: (edits, the single pass's verdict)
EDITS: dict[str, tuple[tuple[str, ...], Verdict]] = {
    "a real seq between two chunks": (
        (ROW + "VALUES ('s', 'w', 4.5, x'66', zeroblob(32), zeroblob(32))",),
        ("broken", 5, "a stored column has the wrong type"),
    ),
    "a row past the head checked": (
        (HEAD_TO_28, "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 30"),
        ("broken", 30, "content_hash does not match the payload"),
    ),
    "rows past a head moved back": (
        (HEAD_TO_28,),
        ("broken", 29, "entries 29..30 lie past the log's recorded head (seq 28)"),
    ),
    "a 32-character text content_hash": (
        ("UPDATE agentstore_log_rows SET content_hash = printf('%032d', 0) WHERE seq = 7",),
        ("broken", 7, "a stored column has the wrong type"),
    ),
    "a 32-character text prev_hash": (
        ("UPDATE agentstore_log_rows SET prev_hash = printf('%032d', 0) WHERE seq = 7",),
        ("broken", 7, "a stored column has the wrong type"),
    ),
    "a real seq in place of the last": (
        (
            "DELETE FROM agentstore_log_rows WHERE seq = 30",
            ROW + "VALUES ('s', 'w', 30.5, x'66', zeroblob(32), zeroblob(32))",
        ),
        ("broken", 30, "a stored column has the wrong type"),
    ),
    "a text seq in place of the last": (
        (
            "DELETE FROM agentstore_log_rows WHERE seq = 30",
            ROW + "VALUES ('s', 'w', 'x', x'66', zeroblob(32), zeroblob(32))",
        ),
        ("broken", 30, "a stored column has the wrong type"),
    ),
    "a row at seq 0": (
        (ROW + "VALUES ('s', 'w', 0, x'66', NULL, zeroblob(32))",),
        ("broken", 1, "expected seq 1, found 0 (out of order or repeated)"),
    ),
    "a row at seq 0 and a later break": (
        (
            ROW + "VALUES ('s', 'w', 0, x'66', NULL, zeroblob(32))",
            "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 10",
        ),
        ("broken", 1, "expected seq 1, found 0 (out of order or repeated)"),
    ),
    "a gap, then a text payload": (
        (
            "DELETE FROM agentstore_log_rows WHERE seq = 10",
            "UPDATE agentstore_log_rows SET payload = CAST(payload AS TEXT) WHERE seq = 11",
        ),
        ("broken", 10, "a stored column has the wrong type"),
    ),
    "a real head seq": (
        ("UPDATE agentstore_log_rows SET payload = 29.5 WHERE seq = 'head'",),
        None,  # whatever the single pass says
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_the_verdict_is_the_single_pass_s(
    tmp_path: Path, mode: list[tuple[int, bool]], edit: str
) -> None:
    db = tmp_path / "c.db"
    _build(db)
    statements, expected = EDITS[edit]
    _edit(db, *statements)
    single, verdict = _both(db)
    if expected is not None:
        assert single == expected
    assert verdict == single


def test_an_intact_chain_is_proven_whole(tmp_path: Path, mode: list[tuple[int, bool]]) -> None:
    db = tmp_path / "c.db"
    _build(db)
    assert _both(db) == (("count", LENGTH), ("count", LENGTH))
    assert mode and all(whole for _, whole in mode)


def test_appends_while_verifying_are_no_tampering(
    tmp_path: Path, mode: list[tuple[int, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "c.db"
    _build(db)
    backend, other = open_file(db), open_file(db)
    try:
        appender = SqliteLogStore(other)
        logs = SqliteLogStore(backend, verify_workers=3)
        real = SqliteLogStore._check_ranges

        def appends_around(self: SqliteLogStore, *args: object, **kw: object) -> bool:
            appender._append("s", "w", b"during 1")  # after verify read the head
            whole = real(self, *args, **kw)  # type: ignore[arg-type]
            appender._append("s", "w", b"during 2")
            return whole

        monkeypatch.setattr(SqliteLogStore, "_check_ranges", appends_around)
        # the entries appended meanwhile are checked too, as a single pass would
        assert logs._verify("s", "w") in (LENGTH + 1, LENGTH + 2)
        assert mode and mode[-1][1] is True  # no fallback: the read proved 1..30 whole
        assert SqlLogStore._verify(logs, "s", "w") == LENGTH + 2
    finally:
        backend.close()
        other.close()


def test_the_very_file_is_read_through_a_symlink_and_dotdot(
    tmp_path: Path, mode: list[tuple[int, bool]]
) -> None:
    real = tmp_path / "real" / "sub"
    real.mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    db = tmp_path / "link" / ".." / "c.db"  # the kernel resolves it to real/c.db
    _build(db)
    _build(tmp_path / "c.db")  # an intact copy where a textual '..' would point
    _edit(
        tmp_path / "real" / "c.db", "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 5"
    )
    single, verdict = _both(db)
    assert single == ("broken", 5, "content_hash does not match the payload")
    assert verdict == single
    assert mode and mode[-1][1] is False  # read the edited file, not the copy


def test_a_snapshot_that_cannot_open_falls_back(
    tmp_path: Path, mode: list[tuple[int, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "c.db"
    _build(db)
    backend = open_file(db)
    try:
        logs = SqliteLogStore(backend, verify_workers=3)
        os.rename(db, tmp_path / "moved.db")  # the open connection still reads it
        assert logs._verify("s", "w") == LENGTH
    finally:
        backend.close()
    assert "verifying in one pass" in caplog.text


def test_no_claims_folder_is_left_behind(
    tmp_path: Path, mode: list[tuple[int, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "c.db"
    _build(db)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    _edit(db, "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 6")
    assert _both(db)[1][:2] == ("broken", 6)
    assert list(temp.iterdir()) == []


def test_verify_while_another_process_appends(tmp_path: Path, mode: list[tuple[int, bool]]) -> None:
    from sqlite_helpers import Children, open_file_store

    db = tmp_path / "c.db"
    with open_file_store(db) as store:
        store.log("shared", writer="w").append_many([b"e%d" % i for i in range(LENGTH)])
    children = Children("append-until-killed", db, 0, 1)
    try:
        children.go()
        with open_file_store(db, verify_workers=3) as store:
            log = store.log("shared", writer="w")
            counts = [log.verify()]  # never a false alarm
            deadline = time.monotonic() + 60
            while len(counts) < 20 or counts[-1] == counts[0]:  # while the child appends
                counts.append(log.verify())
                assert time.monotonic() < deadline, "the child appended nothing"
    finally:
        children.kill()
    assert counts == sorted(counts) and LENGTH <= counts[0] < counts[-1]
    assert len(mode) == len(counts) and all(whole for _, whole in mode)


def _declare_seq(db: Path, declared: str) -> None:
    """Rewrite the declared type of agentstore_log_rows.seq, as editing the file would."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'agentstore_log_rows'"
        ).fetchone()
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = ? WHERE name = 'agentstore_log_rows'",
            (
                sql.replace("seq INTEGER NOT NULL", f"seq {declared} NOT NULL", 1).replace(
                    "seq BLOB NOT NULL", f"seq {declared} NOT NULL", 1
                ),
            ),
        )
    finally:
        conn.close()


def test_a_real_seq_equal_to_an_integer_is_caught(
    tmp_path: Path, mode: list[tuple[int, bool]]
) -> None:
    db = tmp_path / "c.db"
    _build(db)
    _declare_seq(db, "BLOB")  # no affinity: 7.0 stays REAL ...
    _edit(db, "UPDATE agentstore_log_rows SET seq = 7.0 WHERE seq = 7")
    _declare_seq(db, "INTEGER")  # ... and stays so once the declaration is back
    single, verdict = _both(db)
    assert single == ("broken", 7, "a stored column has the wrong type")
    assert verdict == single


@pytest.mark.parametrize("workers", [1, 3])
def test_a_head_at_the_largest_integer(
    tmp_path: Path, mode: list[tuple[int, bool]], workers: int
) -> None:
    db = tmp_path / "c.db"
    _build(db)
    _edit(db, f"UPDATE agentstore_log_rows SET payload = {2**63 - 1} WHERE seq = 'head'")
    single, verdict = _both(db, workers)
    assert single[:2] == ("broken", LENGTH + 1)
    assert verdict == single


def test_another_file_moved_to_the_path_is_not_read(
    tmp_path: Path, mode: list[tuple[int, bool]], caplog: pytest.LogCaptureFixture
) -> None:
    db, copy = tmp_path / "c.db", tmp_path / "copy.db"
    _build(db)
    _build(copy)  # the same appends: an intact chain
    _edit(db, "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 5")
    backend = open_file(db)
    try:
        logs = SqliteLogStore(backend, verify_workers=3)
        os.rename(db, tmp_path / "moved.db")  # the store's connection keeps its file
        os.rename(copy, db)
        assert _verdict(lambda: logs._verify("s", "w")) == (
            "broken",
            5,
            "content_hash does not match the payload",
        )
    finally:
        backend.close()
    assert "no longer the file this store opened" in caplog.text


def test_a_rollback_journal_is_read_in_one_pass(
    tmp_path: Path, mode: list[tuple[int, bool]]
) -> None:
    db = tmp_path / "c.db"
    backend = open_file(db, journal_mode="DELETE")
    try:
        ensure_schema(backend)
        logs = SqliteLogStore(backend, verify_workers=3)
        logs._append_many("s", "w", [b"e%d" % i for i in range(1, LENGTH + 1)])
        assert logs._verify("s", "w") == LENGTH
    finally:
        backend.close()
    assert mode == []  # a long read would hold every writer back: not taken
