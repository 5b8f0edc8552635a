"""Verifying a long chain on SQLite: entries per second and peak RSS, each in a fresh process."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from benchmarks.common import PAYLOAD, STREAM, Settings, SqliteFloorLog, open_agentstore
from benchmarks.harness import Contender, Runner, Sample, Scenario

ROOT = Path(__file__).resolve().parent.parent
BUILD_BATCH = 10_000


MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class TreeRss(threading.Thread):
    """Samples the summed RSS of a process and its descendants every few milliseconds.

    Each process's exact peak is reported by the process itself; this adds the peak of the
    sum when a verify spreads over worker processes (a sample can miss a short spike).
    """

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.processes = 1
        self._done = threading.Event()

    def _tree(self, pid: int) -> list[int]:
        pids, todo = [], [pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            try:
                with open(f"/proc/{p}/task/{p}/children", encoding="ascii") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
        return pids

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as f:
                return int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            return 0

    def run(self) -> None:
        while not self._done.wait(self.interval):
            tree = self._tree(self.pid)
            self.processes = max(self.processes, len(tree))
            self.peak = max(self.peak, sum(self._rss(p) for p in tree))

    def stop(self) -> None:
        self._done.set()
        self.join()


class ChildRunner:
    """Runs ``python -m benchmarks._child MODE DB ENTRIES`` and reads its own measurements."""

    def __init__(self, mode: str, db: Path, entries: int) -> None:
        self.cmd = [sys.executable, "-m", "benchmarks._child", mode, str(db), str(entries)]

    def run(self) -> Sample:
        proc = subprocess.Popen(
            self.cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        sampler = TreeRss(proc.pid)
        sampler.start()
        try:
            out, err = proc.communicate()
        finally:
            sampler.stop()
        if proc.returncode != 0:
            tail = (err.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"child exited {proc.returncode}: {tail}")
        r = json.loads(out.strip().splitlines()[-1])
        extra: dict[str, float] = {"peak RSS MiB": r["maxrss_kib"] / 1024}
        if r["children_maxrss_kib"] or sampler.processes > 1:
            extra["with workers (sampled) MiB"] = sampler.peak / MIB
        return Sample(r["entries"], r["seconds"], extra)

    def close(self) -> None:
        pass


def _build_floor(db: Path, entries: int) -> Path:
    log = SqliteFloorLog(db, "OFF")
    left = entries
    while left:
        k = min(left, BUILD_BATCH)
        log.append_many(STREAM, "floor", [PAYLOAD] * k)
        left -= k
    log.close()
    return db


def _build_agentstore(db: Path, entries: int) -> Path:
    store = open_agentstore("sqlite", {"path": str(db), "synchronous": "OFF"})
    try:
        log = store.log(STREAM, writer="agentstore")
        left = entries
        while left:
            k = min(left, BUILD_BATCH)
            log.append_many([PAYLOAD] * k)
            left -= k
    finally:
        store.close()
    return db


def scenarios(settings: Settings) -> list[Scenario]:
    entries = settings.n(1_000_000, 50_000)
    floor_db = functools.cache(
        lambda: _build_floor(settings.path("verify-floor") / "floor.db", entries)
    )

    def child(mode: str, db: Path | None = None) -> Runner:
        return ChildRunner(mode, db or floor_db(), entries)

    def agentstore_child() -> Runner:
        db = _build_agentstore(settings.path("verify-agentstore") / "agentstore.db", entries)
        return ChildRunner("agentstore", db, entries)

    return [
        Scenario(
            key="verify",
            title=f"Verify a {entries:,}-entry chain on SQLite",
            unit="entries",
            note=(
                f"One writer's chain of {entries:,} 256-byte entries, verified start to end in a "
                "fresh process (timed from the first row read; peak RSS of that process). "
                "The floor is one SELECT in seq order checking every link and BLAKE3 hash in "
                "a Python loop; its two halves are shown alone."
            ),
            contenders=[
                Contender(
                    "python scan + hash (floor)", "floor", "read only", lambda: child("floor")
                ),
                Contender(
                    "agentstore sqlite verify()", "agentstore", "read only", agentstore_child
                ),
                Contender("scan alone", "part", "read only", lambda: child("scan")),
                Contender("BLAKE3 hashing alone", "part", "in memory", lambda: child("hash", ROOT)),
            ],
        )
    ]
