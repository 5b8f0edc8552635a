"""Child process of the catch-up scenarios: reads a whole feed once, prints JSON.

``python -m benchmarks._feed_child MODE DB ENTRIES`` (SQLite: DB is the file) or
``python -m benchmarks._feed_child MODE URL ENTRIES SCHEMA`` (PostgreSQL). MODE is
``feed`` (open the store, ``for event in store.feed(after=0)``) or ``scan`` (one raw ordered
SELECT of the same rows). Run in a fresh interpreter, like a consumer catching up after
being down, so the peak RSS is the read's own; the time is the read's alone (from the
first row asked for to the last received; opening is not counted).
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks._child import peak_rss_kib


def _feed(backend: str, where: str, schema: str | None) -> tuple[int, float]:
    import agentstore

    section = {"path": where} if backend == "sqlite" else {"url": where, "schema": schema}
    store = agentstore.open(agentstore.StorePolicy(backend, sections={backend: section}))
    try:
        start = time.perf_counter()
        n = 0
        for _ in store.feed(after=0):
            n += 1
        return n, time.perf_counter() - start
    finally:
        store.close()


def _scan(backend: str, where: str, schema: str | None) -> tuple[int, float]:
    from benchmarks.feed import PG_SCAN, SQLITE_SCAN

    n = 0
    if backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(where)
        start = time.perf_counter()
        for _ in conn.execute(SQLITE_SCAN):
            n += 1
        seconds = time.perf_counter() - start
        conn.close()
        return n, seconds
    import psycopg

    with psycopg.connect(where, options=f"-c search_path={schema}") as pg:
        start = time.perf_counter()
        # A server-side cursor: the floor holds a page, as the feed does, not every row.
        with pg.cursor(name="scan") as cur:
            cur.itersize = 1000
            cur.execute(PG_SCAN)
            for _ in cur:
                n += 1
        return n, time.perf_counter() - start


def main(argv: list[str]) -> int:
    mode, where, entries = argv[0], argv[1], int(argv[2])
    schema = argv[3] if len(argv) > 3 else None
    backend = "postgres" if schema is not None else "sqlite"
    if mode == "feed":
        n, seconds = _feed(backend, where, schema)
    elif mode == "scan":
        n, seconds = _scan(backend, where, schema)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    if n < entries:
        raise SystemExit(f"{mode}: read {n} events, expected at least {entries}")
    print(json.dumps({"entries": n, "seconds": seconds, "maxrss_kib": peak_rss_kib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
