"""Helpers for the sqlite driver tests: open a store on a file, run child processes.

A module of its own (not conftest) so test modules can import it by a unique name.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agentstore
import pytest

CHILD = Path(__file__).with_name("sqlite_child.py")


def sqlite_policy(path: Path | str, **settings: Any) -> agentstore.StorePolicy:
    return agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": str(path), **settings}})


def open_file_store(path: Path | str, **settings: Any) -> agentstore.Store:
    return agentstore.open(sqlite_policy(path, **settings))


class Children:
    """Child processes started together: each opens the store, then all begin at once."""

    def __init__(self, mode: str, db: Path, n: int, count: int) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(CHILD), mode, str(db), str(n)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=db.parent,
            )
            for _ in range(count)
        ]
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                self.kill()
                _, err = p.communicate()
                raise AssertionError(f"child did not start: {line!r} {err}")

    def go(self) -> None:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()

    def wait(self, timeout: float = 120) -> None:
        """Wait for all; each must exit 0 with nothing on stderr (no call raised)."""
        for p in self.procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err
            assert err == ""
            assert out.strip() == "done"

    def kill(self) -> None:
        """Kill any still running and close every pipe. Idempotent."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                if f is not None:
                    f.close()


def leave_chunks_to_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a parallel verify's own process claim only every third chunk (0, 3, 6, ...), so
    the worker processes check the others however late they start."""
    import agentstore_sqlite.logs as logs_module

    real = logs_module.claim_in

    def every_third(folder: str) -> Callable[[int], bool]:
        claim = real(folder)
        return lambda i: i % 3 == 0 and claim(i)

    monkeypatch.setattr(logs_module, "claim_in", every_third)


def record_fast_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Record each snapshot or chunked read a sqlite verify makes, as (processes, whether
    it proved the chain whole); the list fills as verifies run."""
    from agentstore_sqlite.logs import SqliteLogStore

    runs: list[tuple[int, bool]] = []
    real = SqliteLogStore._check_ranges

    def spy(
        self: SqliteLogStore, stream: str, writer: str, last: int, workers: int, **kw: Any
    ) -> bool:
        whole = real(self, stream, writer, last, workers, **kw)
        runs.append((workers, whole))
        return whole

    monkeypatch.setattr(SqliteLogStore, "_check_ranges", spy)
    return runs
