"""Parallel verify cleans up its worker processes on every path, and falls back in-process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agentstore_sqlite._verify_worker as worker
import agentstore_sqlite.logs as logs_module
import blake3
import pytest
from agentstore import ChainBroken
from agentstore_sqlite.logs import SqliteLogStore
from sqlite_helpers import leave_chunks_to_workers, open_file_store

LENGTH = 40


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[subprocess.Popen[Any]]:
    """Parallel verify from 2 entries; records every worker process started."""
    monkeypatch.setattr(SqliteLogStore, "PARALLEL_MIN_ENTRIES", 2)
    monkeypatch.setattr(SqliteLogStore, "MIN_ENTRIES_PER_WORKER", 1)
    monkeypatch.setattr(SqliteLogStore, "CHUNK_ROWS", 4)  # ten chunks to share out
    leave_chunks_to_workers(monkeypatch)  # 1, 2, 4, 5, 7, 8 (seqs 5-12, 17-24, 29-36)
    started: list[subprocess.Popen[Any]] = []
    real = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        proc = real(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)  # logs imports it when it verifies
    return started


def _build(db: Path) -> None:
    with open_file_store(db, verify_workers=4) as store:
        store.log("s", writer="w").append_many([f"e{i}".encode() for i in range(LENGTH)])


def _edit(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run one statement on the file behind the store's back, committed."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def _all_released(started: list[subprocess.Popen[Any]]) -> None:
    assert started
    for p in started:
        assert p.returncode is not None
        assert p.stdout is not None and p.stdout.closed
        assert p.stderr is not None and p.stderr.closed


def test_workers_are_released_after_a_parallel_verify(
    tmp_path: Path, workers: list[subprocess.Popen[Any]]
) -> None:
    db = tmp_path / "v.db"
    _build(db)
    with open_file_store(db, verify_workers=4) as store:
        assert store.log("s", writer="w").verify() == LENGTH
    assert len(workers) == 3
    _all_released(workers)


def test_a_failing_worker_releases_every_worker_and_falls_back(
    tmp_path: Path, workers: list[subprocess.Popen[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "v.db"
    _build(db)
    bad = tmp_path / "bad_worker.py"
    bad.write_text("import sys\nsys.exit('worker refused')\n")
    monkeypatch.setattr(logs_module, "_WORKER", bad)
    with open_file_store(db, verify_workers=4) as store:
        assert store.log("s", writer="w").verify() == LENGTH  # verified in-process
    assert len(workers) == 3
    _all_released(workers)


def test_a_failing_own_range_releases_every_worker(
    tmp_path: Path, workers: list[subprocess.Popen[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "v.db"
    _build(db)

    def broken_snapshot(path: object, busy_timeout: float, **flags: bool) -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(logs_module, "open_snapshot", broken_snapshot)
    with open_file_store(db, verify_workers=4) as store:
        assert store.log("s", writer="w").verify() == LENGTH
    _all_released(workers)


def test_open_snapshot_closes_its_connection_when_begin_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "v.db"
    _build(db)
    made: list[sqlite3.Connection] = []
    real = sqlite3.connect

    class FailingBegin(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "BEGIN":
                raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, factory=FailingBegin, **kwargs)
        made.append(conn)
        return conn

    monkeypatch.setattr(worker.sqlite3, "connect", connect)
    with pytest.raises(sqlite3.OperationalError):
        worker.open_snapshot(db, 1.0)
    monkeypatch.undo()
    assert len(made) == 1
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        made[0].execute("SELECT 1")


ODD_STREAM = "s p\naced -é- 'q' %41"
ODD_WRITER = "w?#%20\tÿ"


def test_workers_take_any_file_path_and_any_names(
    tmp_path: Path, workers: list[subprocess.Popen[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    # The characters a SQLite URI or a command line could take for something else.
    folder = tmp_path / "a?b#c%41 d é"
    folder.mkdir()
    db = folder / "v%2e.db"
    with open_file_store(db) as store:
        log = store.log(ODD_STREAM, writer=ODD_WRITER)
        log.append_many([f"e{i}".encode() for i in range(LENGTH)])
    with open_file_store(db, verify_workers=4) as store:
        assert store.log(ODD_STREAM, writer=ODD_WRITER).verify() == LENGTH
    assert len(workers) == 3
    assert not caplog.records  # no fallback: every worker found the file and the chain
    _edit(  # an entry of a chunk a worker checks
        db,
        "UPDATE agentstore_log_rows SET payload = x'00' WHERE stream = ? AND seq = ?",
        (ODD_STREAM, 34),
    )
    with open_file_store(db, verify_workers=4) as store, pytest.raises(ChainBroken) as info:
        store.log(ODD_STREAM, writer=ODD_WRITER).verify()
    assert (info.value.stream, info.value.writer, info.value.seq) == (ODD_STREAM, ODD_WRITER, 34)
    assert "content_hash does not match the payload" in str(info.value)
    assert len(workers) == 6
    assert not caplog.records


def test_a_worker_reports_a_truncation_with_its_detail(
    tmp_path: Path, workers: list[subprocess.Popen[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "v.db"
    _build(db)
    # the last entries: chunk 8 (a worker's) and 9 (this process's)
    _edit(db, "DELETE FROM agentstore_log_rows WHERE seq BETWEEN ? AND ?", (33, LENGTH))
    with open_file_store(db, verify_workers=4) as store, pytest.raises(ChainBroken) as info:
        store.log("s", writer="w").verify()
    assert info.value.seq == 33
    assert f"entries 33..{LENGTH} missing: the log was truncated" in str(info.value)
    assert not caplog.records


def test_each_chunk_is_claimed_once_among_claimers(tmp_path: Path) -> None:
    claimers = [worker.claim_in(str(tmp_path)) for _ in range(3)]
    granted = [[i for i in range(50) if claim(i)] for claim in claimers]
    assert granted[0] == list(range(50))
    assert granted[1] == granted[2] == []
    again = worker.claim_in(str(tmp_path))
    assert not any(again(i) for i in range(50))
    assert again(50)
    worker.give_up_in(str(tmp_path))()
    worker.give_up_in(str(tmp_path))()  # twice: no harm
    assert not any(claim(i) for claim in claimers for i in range(51, 60))


def test_a_checker_that_finds_a_break_stops_the_others(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    _build(db)
    _edit(db, "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 10")
    claims = tmp_path / "claims"
    claims.mkdir()
    snapshot = worker.open_snapshot(db, 1.0)
    try:
        found = worker.check_chunks(
            snapshot,
            "s",
            "w",
            LENGTH,
            chunk=4,
            claim=worker.claim_in(str(claims)),
            give_up=worker.give_up_in(str(claims)),
        )
        assert found is None
        # chunks 0, 1 and 2 (seqs 1-12) were claimed; the rest are left to no one
        assert sorted(p.name for p in claims.iterdir()) == ["0", "1", "2", "gave-up"]
        other = worker.check_chunks(
            snapshot, "s", "w", LENGTH, chunk=4, claim=worker.claim_in(str(claims))
        )
        assert other == 0
    finally:
        snapshot.close()


def test_check_chunks_checks_the_granted_chunks_only(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    _build(db)
    conn = worker.open_snapshot(db, 1.0)
    try:
        even = worker.check_chunks(conn, "s", "w", LENGTH, chunk=7, claim=lambda i: i % 2 == 0)
        odd = worker.check_chunks(conn, "s", "w", LENGTH, chunk=7, claim=lambda i: i % 2 == 1)
        none = worker.check_chunks(conn, "s", "w", LENGTH, chunk=7, claim=lambda i: False)
    finally:
        conn.close()
    # chunks 1-7, 15-21, 29-35 and 8-14, 22-28, 36-40
    assert (even, odd, none) == (21, 19, 0)


def test_a_sum_short_of_the_chain_falls_back_to_one_pass(
    tmp_path: Path,
    workers: list[subprocess.Popen[Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = tmp_path / "v.db"
    _build(db)

    def lost_a_chunk(self: SqliteLogStore, *args: Any) -> list[int | None]:
        return [16, 20]  # 4 rows short: a chunk nobody checked

    monkeypatch.setattr(SqliteLogStore, "_check_with_workers", lost_a_chunk)
    with open_file_store(db, verify_workers=4) as store:
        assert store.log("s", writer="w").verify() == LENGTH
    assert "covered 36 of 40 entries" in caplog.text


def test_a_worker_claims_nothing_once_a_checker_gave_up(tmp_path: Path) -> None:
    db = tmp_path / "v.db"
    _build(db)
    claims = tmp_path / "claims"
    claims.mkdir()
    worker.give_up_in(str(claims))()
    job = [str(db), b"s".hex(), b"w".hex(), str(LENGTH), "1.0", "4", str(claims)]
    out = subprocess.run(
        [sys.executable, "-S", worker.__file__, *job],
        env={**os.environ, "PYTHONPATH": str(Path(blake3.__file__).resolve().parent.parent)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "count 0 0\n"
    assert [p.name for p in claims.iterdir()] == ["gave-up"]


def test_this_process_gives_up_when_its_own_chunk_breaks(
    tmp_path: Path, workers: list[subprocess.Popen[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "v.db"
    _build(db)
    # chunk 0, which this process checks itself
    _edit(db, "UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 2")
    gave_up: list[str] = []
    real = logs_module.give_up_in

    def recording(folder: str) -> Callable[[], None]:
        give_up = real(folder)

        def record() -> None:
            gave_up.append(folder)
            give_up()

        return record

    monkeypatch.setattr(logs_module, "give_up_in", recording)
    with open_file_store(db, verify_workers=4) as store, pytest.raises(ChainBroken) as info:
        store.log("s", writer="w").verify()
    assert info.value.seq == 2
    assert len(gave_up) == 1
