"""A child process for the watch tests (run as a script, not collected).

``python watch_child.py DB N PAUSE [audit]``: opens the store on DB (without ``watch``),
prints ``ready``, waits for a line on stdin, then appends N entries to ``shared``/``child``
(one every PAUSE seconds), printing ``position monotonic-seconds`` after each commit; with
``audit``, each append is followed by an audit record (not printed). Prints ``done`` at the end.
"""

from __future__ import annotations

import sys
import time

import agentstore


def main() -> None:
    db, n, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    audit = sys.argv[4:] == ["audit"]
    policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": db}})
    with agentstore.open(policy) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        log = store.log("shared", writer="child")
        for i in range(n):
            entry = log.append(f"child {i}".encode())
            print(entry.position, time.monotonic(), flush=True)
            if audit:
                store.audit.emit(agentstore.AuditEntry(action="note", detail={"i": i}))
            if pause:
                time.sleep(pause)
        print("done", flush=True)


if __name__ == "__main__":
    main()
