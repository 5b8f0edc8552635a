"""Tamper evidence on a real file: edits made with sqlite3 behind the store's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentstore import ChainBroken
from agentstore_sqlite.logs import SqliteLogStore
from agentstore_sqlite.schema import HEAD_SEQ
from sqlite_helpers import leave_chunks_to_workers, open_file_store, record_fast_reads

LENGTH = 30
Tamper = Callable[[sqlite3.Connection, int], None]
WHERE = "stream = 'shared' AND writer = 'w'"
HEAD_ROW = f"seq = '{HEAD_SEQ}'"  # schema 3: a log's recorded head is a row beside its entries


def edit_payload(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log_rows SET payload = x'00' || payload WHERE {WHERE} AND seq = ?",
        (seq,),
    )


def payload_as_text(conn: sqlite3.Connection, seq: int) -> None:
    """The same bytes, stored as TEXT: reading it back would not give bytes."""
    conn.execute(
        f"UPDATE agentstore_log_rows SET payload = CAST(payload AS TEXT) WHERE {WHERE} AND seq = ?",
        (seq,),
    )


def replace_payload(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log_rows SET payload = x'00' WHERE {WHERE} AND seq = ?", (seq,)
    )


def delete_row(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(f"DELETE FROM agentstore_log_rows WHERE {WHERE} AND seq = ?", (seq,))


def swap_rows(conn: sqlite3.Connection, seq: int) -> None:
    """Swap the rows at ``seq`` and ``seq + 1`` by exchanging their seq numbers."""
    parked = 10**9  # a seq no row has (the schema refuses any below 1)
    for old, new in [(seq, parked), (seq + 1, seq), (parked, seq + 1)]:
        conn.execute(
            f"UPDATE agentstore_log_rows SET seq = ? WHERE {WHERE} AND seq = ?", (new, old)
        )


def edit_prev_hash(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log_rows SET prev_hash = zeroblob(32) WHERE {WHERE} AND seq = ?", (seq,)
    )


def edit_content_hash(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log_rows SET content_hash = zeroblob(32) WHERE {WHERE} AND seq = ?",
        (seq,),
    )


TAMPERS: dict[str, Tamper] = {
    "edit payload": edit_payload,
    "payload as text": payload_as_text,
    "replace payload": replace_payload,
    "delete row": delete_row,
    "swap rows": swap_rows,
    "edit prev_hash": edit_prev_hash,
    "edit content_hash": edit_content_hash,
}


@pytest.fixture(params=["in-process", "snapshot", "parallel"])
def verify_mode(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[list[tuple[int, bool]]]:
    """Selects how verify runs: one pass through the store's connection, one range read
    through a snapshot of its own, or chunks checked by this process and worker processes
    (the workers taking two chunks in three); yields the chunked reads made, as (processes,
    whether they proved the chain whole)."""
    runs: list[tuple[int, bool]] = []
    if request.param == "snapshot":
        monkeypatch.setattr(SqliteLogStore, "SNAPSHOT_MIN_ENTRIES", 2)
    if request.param == "parallel":
        monkeypatch.setattr(SqliteLogStore, "PARALLEL_MIN_ENTRIES", 2)
        monkeypatch.setattr(SqliteLogStore, "MIN_ENTRIES_PER_WORKER", 1)
        monkeypatch.setattr(SqliteLogStore, "CHUNK_ROWS", 4)  # chunks for all to claim
        leave_chunks_to_workers(monkeypatch)
    if request.param != "in-process":
        runs = record_fast_reads(monkeypatch)
    yield runs
    if request.param != "in-process":
        assert runs, f"verify did not read by {request.param}"
        assert all(w == (3 if request.param == "parallel" else 1) for w, _ in runs)
        assert not caplog.records, "a snapshot or worker failed: verify fell back"


def _build(db: Path) -> None:
    with open_file_store(db, verify_workers=3) as store:
        log = store.log("shared", writer="w")
        log.append_many([f"entry {i}".encode() for i in range(1, LENGTH)])
        log.append(f"entry {LENGTH}".encode())
        assert log.verify() == LENGTH


def _tamper(db: Path, how: Tamper, seq: int) -> bool:
    """Apply ``how``; False when the schema's CHECK constraints refuse it (nothing changed)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        how(conn, seq)
    except sqlite3.IntegrityError as exc:
        assert "CHECK constraint failed" in str(exc)
        return False
    else:
        assert conn.total_changes > 0
        return True
    finally:
        conn.close()


def _intact(db: Path) -> int:
    with open_file_store(db, verify_workers=3) as store:
        return store.log("shared", writer="w").verify()


def _broken_seq(db: Path) -> int:
    with open_file_store(db, verify_workers=3) as store, pytest.raises(ChainBroken) as info:
        store.log("shared", writer="w").verify()
    assert info.value.stream == "shared"
    assert info.value.writer == "w"
    assert f"at seq {info.value.seq}" in str(info.value)
    return info.value.seq


# With 30 entries in chunks of 4, this process checks chunks 1-4, 13-16 and 25-28, the
# workers the others: the parallel runs tamper on either side of the chunks' edges.
CASES = (
    [("in-process", seq) for seq in (1, 10, 11, 21, 29)]
    + [("snapshot", seq) for seq in (1, 15, 30)]
    + [("parallel", seq) for seq in (4, 5, 8, 9, 12, 13, 29)]
)


@pytest.mark.parametrize(("verify_mode", "seq"), CASES, indirect=["verify_mode"])
@pytest.mark.parametrize("how", sorted(TAMPERS))
def test_verify_names_the_first_broken_seq(
    tmp_path: Path, verify_mode: list[tuple[int, bool]], how: str, seq: int
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    if _tamper(db, TAMPERS[how], seq):
        assert _broken_seq(db) == seq
        # the snapshot or chunked read itself found the edit (a single pass then named it)
        assert not verify_mode or verify_mode[-1][1] is False
    else:  # refused: the genesis row may not get a prev_hash, nor leave seq 1
        assert (how, seq) in {("edit prev_hash", 1), ("swap rows", 1)}
        assert _intact(db) == LENGTH


def test_the_earliest_of_several_breaks_is_named(
    tmp_path: Path, verify_mode: list[tuple[int, bool]]
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    _tamper(db, edit_payload, 25)
    _tamper(db, delete_row, 14)
    _tamper(db, edit_prev_hash, 17)
    assert _broken_seq(db) == 14


def test_an_intact_chain_verifies_the_same_either_way(
    tmp_path: Path, verify_mode: list[tuple[int, bool]]
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    with open_file_store(db, verify_workers=3) as store:
        assert store.log("shared", writer="w").verify() == LENGTH
        assert store.audit.verify() == 0
    assert all(whole for _, whole in verify_mode)


# -- truncation, stray rows and the recorded head -----------------------------------------


def delete_from(conn: sqlite3.Connection, seq: int) -> None:
    """Delete every row from ``seq`` on: the chain left is valid, only shorter."""
    conn.execute(
        f"DELETE FROM agentstore_log_rows WHERE {WHERE} AND seq >= ? AND NOT {HEAD_ROW}", (seq,)
    )


def stray_row(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        "INSERT INTO agentstore_log_rows (stream, writer, seq, payload, prev_hash, content_hash) "
        "VALUES ('shared', 'w', ?, x'00', CASE WHEN ? = 1 THEN NULL ELSE zeroblob(32) END, "
        "zeroblob(32))",
        (seq, seq),
    )


def set_head_seq(conn: sqlite3.Connection, seq: int) -> None:
    """Point the recorded head at ``seq``, with that entry's own hash when it is stored."""
    conn.execute(
        "UPDATE agentstore_log_rows SET payload = ?, content_hash = coalesce(("
        f"SELECT content_hash FROM agentstore_log WHERE {WHERE} AND seq = ?), content_hash) "
        f"WHERE {WHERE} AND {HEAD_ROW}",
        (seq, seq),
    )


def edit_head_hash(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log_rows SET content_hash = zeroblob(32) WHERE {WHERE} AND {HEAD_ROW}"
    )


def head_seq_as(value: str) -> Tamper:
    """Store ``value`` (SQL) as the recorded head's seq, past the CHECK that refuses it."""

    def edit(conn: sqlite3.Connection, seq: int) -> None:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(
            f"UPDATE agentstore_log_rows SET payload = {value} WHERE {WHERE} AND {HEAD_ROW}"
        )

    return edit


def delete_head(conn: sqlite3.Connection, seq: int) -> None:
    """Delete the head row, dropping the trigger that refuses it first (as an intruder can)."""
    conn.execute("DROP TRIGGER agentstore_log_head_kept")
    conn.execute(f"DELETE FROM agentstore_log_rows WHERE {WHERE} AND {HEAD_ROW}")


# (tamper, its seq argument, the seq verify must name)
HEAD_CASES: dict[str, tuple[Tamper, int, int]] = {
    "delete the last row": (delete_from, LENGTH, LENGTH),
    "delete the last two rows": (delete_from, LENGTH - 1, LENGTH - 1),
    "delete all rows": (delete_from, 1, 1),
    "stray row past the head": (stray_row, LENGTH + 1, LENGTH + 1),
    "head moved back": (set_head_seq, LENGTH - 2, LENGTH - 1),
    "head moved forward": (set_head_seq, LENGTH + 3, LENGTH + 1),
    "head hash edited": (edit_head_hash, 0, LENGTH),
    "head deleted": (delete_head, 0, 1),
    "head seq as text": (head_seq_as(f"'{LENGTH}'"), 0, LENGTH + 1),
    "head seq as a real": (head_seq_as(f"{LENGTH}.0"), 0, LENGTH + 1),
    "head seq as a blob": (head_seq_as("x'1e'"), 0, LENGTH + 1),
    "head seq zero": (head_seq_as("0"), 0, LENGTH + 1),
}
# The snapshot and parallel reads run only for a head of at least 2 entries that is an
# integer: a missing or malformed head goes to the single pass.
PARALLEL_HEAD_CASES = [c for c in HEAD_CASES if c != "head deleted" and "head seq" not in c]


@pytest.mark.parametrize(
    ("verify_mode", "case"),
    [("in-process", c) for c in HEAD_CASES]
    + [(mode, c) for mode in ("snapshot", "parallel") for c in PARALLEL_HEAD_CASES],
    indirect=["verify_mode"],
)
def test_verify_checks_the_chain_against_the_recorded_head(
    tmp_path: Path, verify_mode: list[tuple[int, bool]], case: str
) -> None:
    how, arg, expected = HEAD_CASES[case]
    db = tmp_path / "chain.db"
    _build(db)
    reads = len(verify_mode)
    assert _tamper(db, how, arg)
    assert _broken_seq(db) == expected
    assert not verify_mode or len(verify_mode) > reads  # the fast read ran on this head too


def test_truncation_is_reported_as_such(
    tmp_path: Path, verify_mode: list[tuple[int, bool]]
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    _tamper(db, delete_from, LENGTH - 1)
    with open_file_store(db, verify_workers=3) as store, pytest.raises(ChainBroken) as info:
        store.log("shared", writer="w").verify()
    assert info.value.detail == f"entries {LENGTH - 1}..{LENGTH} missing: the log was truncated"


@pytest.mark.parametrize("seq", [0, -5])
def test_the_database_refuses_a_row_below_seq_1(tmp_path: Path, seq: int) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    assert not _tamper(db, stray_row, seq)
    assert _intact(db) == LENGTH


CHECKED = "CHECK constraint failed"
KEPT = "recorded head row is never"


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("UPDATE agentstore_log_rows SET content_hash = x'00' WHERE seq = 3", CHECKED),
        ("UPDATE agentstore_log_rows SET prev_hash = NULL WHERE seq = 3", CHECKED),
        ("UPDATE agentstore_log_rows SET prev_hash = x'0000' WHERE seq = 3", CHECKED),
        ("UPDATE agentstore_log_rows SET seq = 0 WHERE seq = 1", CHECKED),
        (f"UPDATE agentstore_log_rows SET payload = 0 WHERE {HEAD_ROW}", CHECKED),
        (f"UPDATE agentstore_log_rows SET payload = x'01' WHERE {HEAD_ROW}", CHECKED),
        (f"UPDATE agentstore_log_rows SET content_hash = x'00' WHERE {HEAD_ROW}", CHECKED),
        # a truncation by seq range, or dropping a whole log, would take the head row too
        (f"DELETE FROM agentstore_log_rows WHERE {WHERE} AND seq >= 20", KEPT),
        ("DELETE FROM agentstore_log_rows WHERE stream = 'shared'", KEPT),
        (f"DELETE FROM agentstore_log_rows WHERE {HEAD_ROW}", KEPT),
        (f"UPDATE agentstore_log_rows SET seq = 31 WHERE {WHERE} AND {HEAD_ROW}", KEPT),
        (f"UPDATE agentstore_log_rows SET writer = 'x' WHERE {WHERE} AND {HEAD_ROW}", KEPT),
        (f"UPDATE agentstore_log_rows SET seq = 'head' WHERE {WHERE} AND seq = 30", KEPT),
    ],
)
def test_the_database_refuses_malformed_rows_and_keeps_each_head_row(
    tmp_path: Path, sql: str, refusal: str
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match=refusal):
            conn.execute(sql)
    finally:
        conn.close()
    assert _intact(db) == LENGTH  # the statement failed whole


def test_a_text_seq_kept_from_an_old_schema_is_reported_either_way(
    tmp_path: Path, verify_mode: list[tuple[int, bool]]
) -> None:
    # Schema 2 let a TEXT seq in (SQLite sorts it above every integer); upgrading keeps it.
    db = tmp_path / "chain.db"
    _build(db)

    def text_row(conn: sqlite3.Connection, _: int) -> None:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(
            "INSERT INTO agentstore_log_rows (stream, writer, seq, payload, prev_hash, "
            "content_hash) VALUES ('shared', 'w', 'x', x'00', zeroblob(32), zeroblob(32))"
        )

    assert _tamper(db, text_row, 0)
    with open_file_store(db, verify_workers=3) as store, pytest.raises(ChainBroken) as info:
        store.log("shared", writer="w").verify()
    assert info.value.seq == LENGTH + 1
    assert info.value.detail == "a stored column has the wrong type"


@pytest.mark.parametrize("seq", ["'abc'", "x'01'", "2.5"])
def test_the_database_refuses_an_entry_seq_that_is_not_an_integer(tmp_path: Path, seq: str) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    assert not _tamper(
        db,
        lambda conn, _: conn.execute(
            "INSERT INTO agentstore_log_rows (stream, writer, seq, payload, prev_hash, "
            f"content_hash) VALUES ('shared', 'w', {seq}, 1, zeroblob(32), zeroblob(32))"
        ),
        0,
    )
    assert _intact(db) == LENGTH


@pytest.mark.parametrize("cached", [True, False])
def test_an_append_after_truncation_does_not_hide_it(tmp_path: Path, cached: bool) -> None:
    # SQLite appends after the recorded head, not after the last stored row: the new
    # entry lands at LENGTH + 1 and verify still names the deleted entry.
    db = tmp_path / "chain.db"
    _build(db)
    with open_file_store(db) as store:
        log = store.log("shared", writer="w")
        if cached:
            log.append(b"warm the cached head")
        expected = LENGTH + 1 if cached else LENGTH
        _tamper(db, delete_from, expected)
        entry = log.append(b"after the deletion")
        assert entry.seq == expected + 1
        with pytest.raises(ChainBroken) as info:
            log.verify()
        assert info.value.seq == expected
        assert "missing" in info.value.detail


def test_a_fully_deleted_log_is_still_listed_and_verified(tmp_path: Path) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    _tamper(db, delete_from, 1)
    with open_file_store(db) as store:
        assert ("shared", "w") in store.logs()
        with pytest.raises(ChainBroken) as info:
            store.log("shared", writer="w").verify()
        assert info.value.seq == 1
        assert info.value.detail == f"entries 1..{LENGTH} missing: the log was truncated"
