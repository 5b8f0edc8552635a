"""Parallel verify cleans up its worker processes on every path, and falls back in-process."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import agentstore_sqlite._verify_worker as worker
import agentstore_sqlite.logs as logs_module
import pytest
from agentstore import ChainBroken
from agentstore_sqlite.logs import SqliteLogStore
from sqlite_helpers import open_file_store

LENGTH = 40


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[subprocess.Popen[Any]]:
    """Parallel verify from 2 entries; records every worker process started."""
    monkeypatch.setattr(SqliteLogStore, "PARALLEL_MIN_ENTRIES", 2)
    monkeypatch.setattr(SqliteLogStore, "MIN_ENTRIES_PER_WORKER", 1)
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

    def broken_snapshot(path: object, busy_timeout: float) -> sqlite3.Connection:
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
    conn = sqlite3.connect(db)
    with conn:  # an entry in the last worker's range
        conn.execute(
            "UPDATE agentstore_log_rows SET payload = x'00' WHERE stream = ? AND seq = ?",
            (ODD_STREAM, LENGTH - 2),
        )
    conn.close()
    with open_file_store(db, verify_workers=4) as store, pytest.raises(ChainBroken) as info:
        store.log(ODD_STREAM, writer=ODD_WRITER).verify()
    assert (info.value.stream, info.value.writer, info.value.seq) == (
        ODD_STREAM,
        ODD_WRITER,
        LENGTH - 2,
    )
    assert "content_hash does not match the payload" in str(info.value)
    assert len(workers) == 6
    assert not caplog.records


def test_a_worker_reports_a_truncation_with_its_detail(
    tmp_path: Path, workers: list[subprocess.Popen[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "v.db"
    _build(db)
    conn = sqlite3.connect(db)
    with conn:  # the last entries, from the last worker's range to the recorded head
        conn.execute(
            "DELETE FROM agentstore_log_rows WHERE seq BETWEEN ? AND ?", (LENGTH - 3, LENGTH)
        )
    conn.close()
    with open_file_store(db, verify_workers=4) as store, pytest.raises(ChainBroken) as info:
        store.log("s", writer="w").verify()
    assert info.value.seq == LENGTH - 3
    assert f"entries {LENGTH - 3}..{LENGTH} missing: the log was truncated" in str(info.value)
    assert not caplog.records


@pytest.mark.parametrize(
    ("last", "workers", "head_start"),
    [(1_000_000, 2, 15_000), (100_000, 3, 15_000), (40, 4, 15_000), (4, 4, 15_000), (7, 2, 0)],
)
def test_ranges_cover_the_chain_once_with_this_process_taking_the_head_start(
    last: int, workers: int, head_start: int
) -> None:
    bounds = logs_module._bounds(last, workers, head_start)
    assert bounds[0] == 1 and bounds[-1] == last + 1
    sizes = [b - a for a, b in itertools.pairwise(bounds)]
    assert len(sizes) == workers and all(size >= 1 for size in sizes)
    extra = min(head_start, last // (2 * workers))
    assert all(abs(sizes[0] - size - extra) <= 1 for size in sizes[1:])
    assert max(sizes[1:]) - min(sizes[1:]) <= 1
