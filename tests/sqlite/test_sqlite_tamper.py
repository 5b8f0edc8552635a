"""Tamper evidence on a real file: edits made with sqlite3 behind the store's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentstore import ChainBroken
from agentstore_sqlite.logs import SqliteLogStore
from sqlite_helpers import open_file_store

LENGTH = 30
Tamper = Callable[[sqlite3.Connection, int], None]
WHERE = "stream = 'shared' AND writer = 'w'"


def edit_payload(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log SET payload = x'00' || payload WHERE {WHERE} AND seq = ?", (seq,)
    )


def payload_as_text(conn: sqlite3.Connection, seq: int) -> None:
    """The same bytes, stored as TEXT: reading it back would not give bytes."""
    conn.execute(
        f"UPDATE agentstore_log SET payload = CAST(payload AS TEXT) WHERE {WHERE} AND seq = ?",
        (seq,),
    )


def replace_payload(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(f"UPDATE agentstore_log SET payload = x'00' WHERE {WHERE} AND seq = ?", (seq,))


def delete_row(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(f"DELETE FROM agentstore_log WHERE {WHERE} AND seq = ?", (seq,))


def swap_rows(conn: sqlite3.Connection, seq: int) -> None:
    """Swap the rows at ``seq`` and ``seq + 1`` by exchanging their seq numbers."""
    for old, new in [(seq, -1), (seq + 1, seq), (-1, seq + 1)]:
        conn.execute(f"UPDATE agentstore_log SET seq = ? WHERE {WHERE} AND seq = ?", (new, old))


def edit_prev_hash(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log SET prev_hash = zeroblob(32) WHERE {WHERE} AND seq = ?", (seq,)
    )


def edit_content_hash(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute(
        f"UPDATE agentstore_log SET content_hash = zeroblob(32) WHERE {WHERE} AND seq = ?", (seq,)
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


@pytest.fixture(params=["in-process", "parallel"])
def verify_mode(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[int]]:
    """Selects how verify runs; yields the list of parallel runs made (for checking)."""
    runs: list[int] = []
    if request.param == "parallel":
        monkeypatch.setattr(SqliteLogStore, "PARALLEL_MIN_ENTRIES", 2)
        monkeypatch.setattr(SqliteLogStore, "MIN_ENTRIES_PER_WORKER", 1)
        real = SqliteLogStore._verify_parallel

        def spy(self: SqliteLogStore, stream: str, writer: str, last: int, workers: int) -> int:
            runs.append(workers)
            return real(self, stream, writer, last, workers)

        monkeypatch.setattr(SqliteLogStore, "_verify_parallel", spy)
    yield runs
    if request.param == "parallel":
        assert runs, "verify did not run in parallel"
        assert all(w == 3 for w in runs)


def _build(db: Path) -> None:
    with open_file_store(db, verify_workers=3) as store:
        log = store.log("shared", writer="w")
        log.append_many([f"entry {i}".encode() for i in range(1, LENGTH)])
        log.append(f"entry {LENGTH}".encode())
        assert log.verify() == LENGTH


def _tamper(db: Path, how: Tamper, seq: int) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        how(conn, seq)
        assert conn.total_changes > 0
    finally:
        conn.close()


def _broken_seq(db: Path) -> int:
    with open_file_store(db, verify_workers=3) as store, pytest.raises(ChainBroken) as info:
        store.log("shared", writer="w").verify()
    assert info.value.stream == "shared"
    assert info.value.writer == "w"
    assert f"at seq {info.value.seq}" in str(info.value)
    return info.value.seq


# With 30 entries and 3 checkers the ranges are 1-10, 11-20 and 21-30: the parallel runs
# tamper on their edges.
CASES = [("in-process", seq) for seq in (1, 10, 11, 21, 29)] + [
    ("parallel", seq) for seq in (10, 11, 21)
]


@pytest.mark.parametrize(("verify_mode", "seq"), CASES, indirect=["verify_mode"])
@pytest.mark.parametrize("how", sorted(TAMPERS))
def test_verify_names_the_first_broken_seq(
    tmp_path: Path, verify_mode: list[int], how: str, seq: int
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    _tamper(db, TAMPERS[how], seq)
    assert _broken_seq(db) == seq


def test_the_earliest_of_several_breaks_is_named(tmp_path: Path, verify_mode: list[int]) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    _tamper(db, edit_payload, 25)
    _tamper(db, delete_row, 14)
    _tamper(db, edit_prev_hash, 17)
    assert _broken_seq(db) == 14


def test_an_intact_chain_verifies_the_same_either_way(
    tmp_path: Path, verify_mode: list[int]
) -> None:
    db = tmp_path / "chain.db"
    _build(db)
    with open_file_store(db, verify_workers=3) as store:
        assert store.log("shared", writer="w").verify() == LENGTH
        assert store.audit.verify() == 0
