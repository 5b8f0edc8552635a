"""Parallel verify cleans up its worker processes on every path, and falls back in-process."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import agentstore_sqlite._verify_worker as worker
import agentstore_sqlite.logs as logs_module
import pytest
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
