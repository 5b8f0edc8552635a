"""Child process of the verify scenario: does one job, prints its time and peak RSS as JSON.

Run in a fresh interpreter so the peak resident set size is the job's own, not the
harness's. ``python -m benchmarks._child MODE DB ENTRIES``; MODE is ``floor`` (scan and
hash), ``scan`` (scan alone), ``hash`` (hash alone, DB unused) or ``agentstore``.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from blake3 import blake3

from benchmarks.common import STREAM

SELECT = (
    "SELECT seq, payload, prev_hash, content_hash FROM floor_entries "
    "WHERE stream = ? AND writer = ? ORDER BY seq"
)


def _floor(db: str, writer: str) -> int:
    """Straightforward Python: one query in seq order, check each link and hash."""
    import sqlite3

    conn = sqlite3.connect(db)
    expected, prev = 1, None
    for seq, payload, prev_hash, content_hash in conn.execute(SELECT, (STREAM, writer)):
        if seq != expected or prev_hash != prev:
            raise SystemExit(f"broken link at seq {expected}")
        h = blake3(prev) if prev is not None else blake3()
        h.update(payload)
        if h.digest() != content_hash:
            raise SystemExit(f"bad hash at seq {seq}")
        prev = content_hash
        expected += 1
    conn.close()
    return expected - 1


def _scan(db: str, writer: str) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    n = 0
    for _row in conn.execute(SELECT, (STREAM, writer)):
        n += 1
    conn.close()
    return n


def _hash(entries: int) -> int:
    payload = bytes(range(256))
    prev: bytes | None = None
    for _ in range(entries):
        h = blake3(prev) if prev is not None else blake3()
        h.update(payload)
        prev = h.digest()
    return entries


def peak_rss_kib() -> int:
    """This process's peak resident set size, in KiB.

    ``VmHWM`` belongs to the address space made by exec, so it is this job's own peak;
    ``ru_maxrss`` also carries what the parent held when it forked, hence only a fallback.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> int:
    mode, db, entries = argv[0], argv[1], int(argv[2])
    store = None
    if mode == "agentstore":
        import agentstore

        policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": db}})
        store = agentstore.open(policy)
        log = store.log(STREAM, writer="agentstore")
    start = time.perf_counter()
    if mode == "floor":
        n = _floor(db, "floor")
    elif mode == "scan":
        n = _scan(db, "floor")
    elif mode == "hash":
        n = _hash(entries)
    elif mode == "agentstore":
        n = log.verify()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - start
    if store is not None:
        store.close()
    if n != entries:
        raise SystemExit(f"{mode}: checked {n} entries, expected {entries}")
    report = {
        "entries": n,
        "seconds": seconds,
        "maxrss_kib": peak_rss_kib(),
        "children_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
