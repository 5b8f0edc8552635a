"""Verifying a long chain on SQLite: entries per second and peak RSS, each in a fresh process."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import PAYLOAD, STREAM, Settings, SqliteFloorLog, open_agentstore
from benchmarks.harness import Contender, Runner, Sample, Scenario

ROOT = Path(__file__).resolve().parent.parent
BUILD_BATCH = 10_000


class ChildRunner:
    """Runs ``python -m benchmarks._child MODE DB ENTRIES`` and reads its own measurements."""

    def __init__(self, mode: str, db: Path, entries: int) -> None:
        self.cmd = [sys.executable, "-m", "benchmarks._child", mode, str(db), str(entries)]

    def run(self) -> Sample:
        proc = subprocess.run(self.cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"child exited {proc.returncode}: {tail}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        extra: dict[str, float] = {"peak RSS MiB": r["maxrss_kib"] / 1024}
        if r["children_maxrss_kib"]:
            extra["largest worker RSS MiB"] = r["children_maxrss_kib"] / 1024
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
