"""A report clock: reports are stamped with a generation, never with the wall clock.

Each run of a reporting job opens the store, bumps the generation ``report`` and stamps
its report with the new value; the reports go to a chained log. Three runs are three
opens of the same SQLite file, as three process starts would be, and the clock carries
on across them. A peer that already published report 10 elsewhere makes this one catch
up with ``advance_to``; moving the clock back is refused.

Run it:  python examples/report_clock.py [FOLDER]   (default: a temporary folder)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import agentstore
from agentstore import NonMonotonicGeneration


def run_job(policy: agentstore.StorePolicy, summary: str) -> int:
    """One run of the job: stamp a report and keep it."""
    with agentstore.open(policy) as store:
        stamp = store.generation("report").bump()
        body = json.dumps({"generation": stamp, "summary": summary}).encode()
        store.log("reports", "reporter").append(body)
        return stamp


def main(folder: Path) -> None:
    policy = agentstore.StorePolicy(
        "sqlite", sections={"sqlite": {"path": str(folder / "reports.db")}}
    )
    print(f"run 1: report #{run_job(policy, 'tickets: 12 open')}")
    print(f"run 2: report #{run_job(policy, 'tickets: 9 open')}")

    with agentstore.open(policy) as store:
        clock = store.generation("report")
        print(f"a peer published report #10; catching up: now {clock.advance_to(10)}")
        try:
            clock.advance_to(3)
        except NonMonotonicGeneration as exc:
            print(f"refused: {exc}")

    print(f"run 3: report #{run_job(policy, 'tickets: 4 open')}")

    with agentstore.open(policy) as store:
        log = store.log("reports", "reporter")
        stamps = [json.loads(e.payload)["generation"] for e in log.entries()]
        print(f"reports in order: {stamps}; chain of {log.verify()} entries intact")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
