"""Many threads and processes on one SQLite file, and a process killed mid-append."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from sqlite_helpers import Children, open_file_store


def _assert_contiguous_chain(db: Path, expected: int) -> None:
    with open_file_store(db) as store:
        log = store.log("shared", writer="w")
        seqs = [e.seq for e in log.entries()]
        assert seqs == list(range(1, expected + 1))
        assert log.verify() == expected


def test_four_processes_append_to_one_log(db: Path) -> None:
    children = Children("append", db, 500, 4)
    try:
        children.go()
        children.wait()
    finally:
        children.kill()
    _assert_contiguous_chain(db, 2000)
    with open_file_store(db) as store:
        payloads = {e.payload for e in store.log("shared", writer="w").entries()}
    assert len(payloads) == 2000  # every append landed once


@pytest.mark.parametrize("stores", ["one store", "a store per thread"])
def test_eight_threads_append_to_one_log(db: Path, stores: str) -> None:
    shared = open_file_store(db)
    errors: list[BaseException] = []
    returned: list[int] = []
    barrier = threading.Barrier(8)

    def work(t: int) -> None:
        try:
            store = shared if stores == "one store" else open_file_store(db)
            log = store.log("shared", writer="w")
            barrier.wait()
            for i in range(250):
                returned.append(log.append(f"{t}:{i}".encode()).seq)
            if store is not shared:
                store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    assert errors == []
    assert sorted(returned) == list(range(1, 2001))
    _assert_contiguous_chain(db, 2000)


def test_generation_bumps_from_four_processes(db: Path) -> None:
    children = Children("bump", db, 250, 4)
    try:
        children.go()
        children.wait()
    finally:
        children.kill()
    with open_file_store(db) as store:
        assert store.generation("g").current() == 1000


def test_rate_limit_increments_from_four_processes(db: Path) -> None:
    children = Children("increment", db, 250, 4)
    try:
        children.go()
        children.wait()
    finally:
        children.kill()
    with open_file_store(db) as store:
        assert store.rate_limits.current("k") == 1000


def _run_until_killed(db: Path, mode: str, n: int, after_lines: int) -> list[tuple[int, str]]:
    """Start one child appending forever; SIGKILL it once it has reported ``after_lines``."""
    children = Children(mode, db, n, 1)
    proc = children.procs[0]
    assert proc.stdout is not None
    reported: list[tuple[int, str]] = []
    try:
        children.go()
        while len(reported) < after_lines:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "child exited"
            seq, digest = line.split()
            reported.append((int(seq), digest))
        os.kill(proc.pid, signal.SIGKILL)
        # Lines written before the kill are appends that had returned: count them too.
        for line in proc.stdout:
            if line.endswith("\n"):
                seq, digest = line.split()
                reported.append((int(seq), digest))
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    finally:
        children.kill()
    return reported


@pytest.mark.parametrize("after_lines", [1, 150])
def test_sigkill_mid_append_loses_nothing_returned(db: Path, after_lines: int) -> None:
    reported = _run_until_killed(db, "append-until-killed", 0, after_lines)
    with open_file_store(db) as store:
        log = store.log("shared", writer="w")
        stored = {e.seq: e for e in log.entries()}
        count = log.verify()  # the chain is whole: no partial or torn entry
        assert count == len(stored)
        assert sorted(stored) == list(range(1, count + 1))
        for seq, digest in reported:
            assert stored[seq].content_hash.hex() == digest
        assert count >= reported[-1][0]
        log.append(b"after the crash")  # the log goes on where it stopped
        assert log.verify() == count + 1


def test_sigkill_mid_batch_keeps_batches_whole(db: Path) -> None:
    reported = _run_until_killed(db, "batch-until-killed", 50, 40)
    with open_file_store(db) as store:
        log = store.log("shared", writer="w")
        count = log.verify()
        assert count % 50 == 0  # a batch commits whole or not at all
        assert count >= reported[-1][0]
        stored = {e.seq: e.content_hash.hex() for e in log.entries()}
        for seq, digest in reported:
            assert stored[seq] == digest
