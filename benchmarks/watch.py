"""SQLite's cross-process doorbell (``watch = true``): its idle cost and its latency.

Idle: a store opened with ``watch = true`` and nothing committed, the process otherwise
asleep; a sample is the CPU time the whole process used per second of wall-clock time
(every thread counted). Latency: another process appends, one entry every few
milliseconds; a sample is the time from each append returning there to the doorbell
ringing here (both read ``time.monotonic()``, which the processes share).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Settings, open_agentstore
from benchmarks.harness import Contender, Sample, Scenario, Unavailable

ROOT = Path(__file__).resolve().parent.parent
DURABILITY = "WAL, synchronous=FULL"


def _open_watching(path: Path, watch: bool) -> Any:
    from benchmarks.common import driver_accepts

    if watch and not driver_accepts("sqlite", "watch"):
        raise Unavailable("the installed sqlite driver has no watch setting")
    section: dict[str, Any] = {"path": str(path)}
    if watch:
        section["watch"] = True
    return open_agentstore("sqlite", section)


class IdleRunner:
    """CPU seconds the process uses per wall-clock second while the store sits idle.

    Each sample opens its store and closes it after: the harness keeps every contender
    open at once, and a watching store's thread must not count against the other row."""

    def __init__(self, path: Path, watch: bool, seconds: float) -> None:
        self.path, self.watch, self.seconds = path, watch, seconds
        _open_watching(path, watch).close()  # refuse now if the driver cannot watch

    def run(self) -> Sample:
        store = _open_watching(self.path, self.watch)
        try:
            store.log("idle", writer="w").append(b"x")  # a store in use, then idle
            if self.watch:
                store.doorbell.subscribe(lambda event: None)
            time.sleep(0.1)  # past the ring of its own append
            cpu, wall = time.process_time(), time.monotonic()
            time.sleep(self.seconds)
            used, elapsed = time.process_time() - cpu, time.monotonic() - wall
        finally:
            store.close()
        share = used / elapsed
        return Sample(1, share, {"CPU % of one core": share * 100})

    def close(self) -> None:
        pass


class LatencyRunner:
    """Another process appends ``n`` entries; the time each takes to ring here."""

    def __init__(self, path: Path, n: int, pause: float) -> None:
        self.path, self.n, self.pause = path, n, pause
        self.store = _open_watching(path, True)
        self.rung: dict[int, float] = {}
        self._cond = threading.Condition()
        self.store.doorbell.subscribe(self._heard)

    def _heard(self, event: Any) -> None:
        at = time.monotonic()
        with self._cond:
            self.rung[event.position] = at
            self._cond.notify_all()

    def run(self) -> Sample:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks._watch_writer",
                str(self.path),
                str(self.n),
                str(self.pause),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise RuntimeError(f"the writer did not start: {proc.communicate()[1][-300:]}")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"the writer failed: {err.strip()[-300:]}")
        commits = [(int(p), float(t)) for p, t in (ln.split() for ln in out.split("\n")[:-2])]
        with self._cond:
            self._cond.wait_for(lambda: all(p in self.rung for p, _ in commits), 10)
            missing = [p for p, _ in commits if p not in self.rung]
            lags = [self.rung[p] - t for p, t in commits if p in self.rung]
            self.rung.clear()
        if missing:
            raise RuntimeError(f"{len(missing)} of {len(commits)} commits never rang")
        lags.sort()
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return Sample(
            len(lags),
            sum(lags),
            {
                "p50 ms": statistics.median(lags) * 1e3,
                "p99 ms": p99 * 1e3,
                "max ms": lags[-1] * 1e3,
            },
        )

    def close(self) -> None:
        self.store.close()


def scenarios(settings: Settings) -> list[Scenario]:
    idle = 2.0 if not settings.quick else 0.3
    n = settings.n(200, 40)
    pause = 0.005
    return [
        Scenario(
            key="sqlite-watch-idle",
            title="SQLite watch = true: CPU used while idle",
            unit="s",
            show_rate=False,
            note=(
                f"Samples of {idle:g} s with the process asleep and one store open (each "
                "sample opens its own and closes it after). "
                "'median / op' is the CPU time the whole process used per second (every "
                "thread counted): the watcher asks SQLite for PRAGMA data_version every "
                "20 ms on a connection of its own."
            ),
            contenders=[
                Contender(
                    "agentstore sqlite, watch = true",
                    "agentstore",
                    DURABILITY,
                    lambda: IdleRunner(settings.path("watch-idle") / "w.db", True, idle),
                ),
                Contender(
                    "agentstore sqlite, no watch",
                    "part",
                    DURABILITY,
                    lambda: IdleRunner(settings.path("watch-idle-off") / "w.db", False, idle),
                ),
            ],
        ),
        Scenario(
            key="sqlite-watch-latency",
            title="SQLite watch = true: from a commit in another process to the ring here",
            unit="events",
            note=(
                f"Another process appends {n} entries per sample, one every {pause * 1e3:g} "
                "ms; 'median / op' is the mean time from each append returning there to "
                "the doorbell ringing here."
            ),
            contenders=[
                Contender(
                    "agentstore sqlite, watch = true",
                    "agentstore",
                    DURABILITY,
                    lambda: LatencyRunner(settings.path("watch-lag") / "w.db", n, pause),
                ),
            ],
        ),
    ]
