"""Reading the commit feed: its rate against a raw ordered scan of the same rows, and a
consumer catching up on many positions in a fresh process (time and peak RSS).

The store holds entries of 8 writers in 2 streams, appended in batches of 1,000 taking turns,
so positions interleave logs as a busy store's do. The floor reads the same rows (stream,
writer, seq, content_hash and what gives the position) with one ordered SELECT.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import PAYLOAD, Settings, driver_accepts, open_agentstore
from benchmarks.harness import CallRunner, Contender, Runner, Sample, Scenario, Unavailable
from benchmarks.postgres_log import Pg, _where

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 8
BATCH = 1000
MIB = 1024 * 1024

SQLITE_SCAN = (
    "SELECT stream, writer, seq, content_hash, position FROM agentstore_log_rows "
    "WHERE position > 0 ORDER BY position"
)
"""The SQLite floor: every entry's event fields, in position order (the position index),
in one statement."""

PG_SCAN = (
    "SELECT stream, writer, seq, content_hash, tx, idx FROM agentstore_log "
    "WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx, idx"
)
"""The PostgreSQL floor: the same fields, in position order (transaction, then ordinal),
only rows of transactions older than every one still running, as the feed reads them."""


def _fill(store: Any, entries: int) -> None:
    logs = [store.log(f"s{i % 2}", writer=f"w{i}") for i in range(WRITERS)]
    left, turn = entries, 0
    while left:
        k = min(left, BATCH)
        logs[turn % WRITERS].append_many([PAYLOAD] * k)
        left -= k
        turn += 1


def _check_feed(store: Any) -> None:
    if not hasattr(store, "feed"):
        raise Unavailable("this agentstore has no commit feed (store.feed)")


def _build_sqlite(db: Path, entries: int) -> Path:
    store = open_agentstore("sqlite", {"path": str(db), "synchronous": "OFF"})
    try:
        _check_feed(store)
        _fill(store, entries)
    finally:
        store.close()
    return db


def _pg_section(pg: Pg) -> dict[str, Any]:
    pg.ensure()
    section: dict[str, Any] = {"url": pg.url_in_schema(), "schema": pg.schema}
    if driver_accepts("postgres", "schema"):
        section["url"] = pg.url
    return section


def _build_pg(pg: Pg, entries: int) -> Pg:
    store = open_agentstore("postgres", _pg_section(pg))
    try:
        _check_feed(store)
        _fill(store, entries)
    finally:
        store.close()
    with pg.connect() as conn:
        conn.execute("VACUUM ANALYZE agentstore_log")
    return pg


def _count(rows: Any, entries: int, what: str) -> int:
    n = 0
    for _ in rows:
        n += 1
    if n != entries:
        raise RuntimeError(f"{what} read {n} rows, expected {entries}")
    return n


def _sqlite_scan(db: Path, entries: int) -> Runner:
    conn = sqlite3.connect(db, check_same_thread=False)
    return CallRunner(
        lambda: _count(conn.execute(SQLITE_SCAN), entries, "the scan"), entries, conn.close
    )


def _feed_runner(store: Any, entries: int) -> Runner:
    return CallRunner(lambda: _count(store.feed(), entries, "the feed"), entries, store.close)


def _pg_scan(pg: Pg, entries: int) -> Runner:
    conn = pg.connect()

    def scan() -> None:
        with conn.cursor() as cur:
            cur.execute(PG_SCAN)
            _count(cur, entries, "the scan")

    return CallRunner(scan, entries, conn.close)


class CatchUpRunner:
    """``python -m benchmarks._feed_child MODE ...``: one whole read in a fresh process."""

    def __init__(self, args: list[str]) -> None:
        self.cmd = [sys.executable, "-m", "benchmarks._feed_child", *args]

    def run(self) -> Sample:
        proc = subprocess.run(self.cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"child exited {proc.returncode}: {tail}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        return Sample(r["entries"], r["seconds"], {"peak RSS MiB": r["maxrss_kib"] / 1024})

    def close(self) -> None:
        pass


def scenarios(settings: Settings) -> list[Scenario]:
    read_n = settings.n(100_000, 10_000)
    catch_n = settings.n(1_000_000, 10_000)
    pg_read_n = settings.n(100_000, 5_000)
    pg_catch_n = settings.n(1_000_000, 5_000)
    read_db = functools.cache(lambda: _build_sqlite(settings.path("feed-read") / "feed.db", read_n))
    catch_db = functools.cache(
        lambda: _build_sqlite(settings.path("feed-catchup") / "feed.db", catch_n)
    )
    pg_read, pg_catch = Pg(settings), Pg(settings)
    skipped = pg_read.probe() or pg_catch.probe()
    pg_read_built = functools.cache(lambda: _build_pg(pg_read, pg_read_n))
    pg_catch_built = functools.cache(lambda: _build_pg(pg_catch, pg_catch_n))
    where = f"PostgreSQL {pg_read.version} at {_where(pg_read.url)}"

    def sqlite_feed() -> Runner:
        return _feed_runner(open_agentstore("sqlite", {"path": str(read_db())}), read_n)

    def pg_feed() -> Runner:
        return _feed_runner(open_agentstore("postgres", _pg_section(pg_read_built())), pg_read_n)

    def catch(mode: str, args: Callable[[], list[str]]) -> Callable[[], Runner]:
        return lambda: CatchUpRunner([mode, *args()])

    sqlite_args = lambda: [str(catch_db()), str(catch_n)]  # noqa: E731
    pg_args = lambda: [  # noqa: E731
        pg_catch_built().url,
        str(pg_catch_n),
        pg_catch.schema,
    ]
    mix = f"{WRITERS} writers in 2 streams, batches of {BATCH} taking turns"
    return [
        Scenario(
            key="sqlite-feed",
            title=f"SQLite: reading the feed of {read_n:,} positions",
            unit="events",
            note=(
                f"{read_n:,} entries ({mix}). agentstore: `for e in store.feed()`. Floor: "
                "one raw sqlite3 SELECT of the same rows in position order, iterated."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 ordered scan (floor)",
                    "floor",
                    "read only",
                    lambda: _sqlite_scan(read_db(), read_n),
                ),
                Contender("agentstore sqlite store.feed()", "agentstore", "read only", sqlite_feed),
            ],
        ),
        Scenario(
            key="sqlite-feed-catchup",
            title=f"SQLite: a consumer catching up on {catch_n:,} positions",
            unit="events",
            note=(
                f"{catch_n:,} entries ({mix}), read whole from position 0 in a fresh process "
                "(timed from the first row asked for; peak RSS of that process)."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 ordered scan (floor)",
                    "floor",
                    "read only",
                    catch("scan", sqlite_args),
                ),
                Contender(
                    "agentstore sqlite store.feed()",
                    "agentstore",
                    "read only",
                    catch("feed", sqlite_args),
                ),
            ],
        ),
        Scenario(
            key="postgres-feed",
            title=f"PostgreSQL: reading the feed of {pg_read_n:,} positions",
            unit="events",
            skipped=skipped,
            note=(
                f"{where}. {pg_read_n:,} entries ({mix}). Floor: one raw psycopg SELECT of "
                "the same rows in position order (client-side cursor), iterated."
            ),
            contenders=[
                Contender(
                    "raw psycopg ordered scan (floor)",
                    "floor",
                    "read only",
                    lambda: _pg_scan(pg_read_built(), pg_read_n),
                ),
                Contender("agentstore postgres store.feed()", "agentstore", "read only", pg_feed),
            ],
        ),
        Scenario(
            key="postgres-feed-catchup",
            title=f"PostgreSQL: a consumer catching up on {pg_catch_n:,} positions",
            unit="events",
            skipped=skipped,
            note=(
                f"{where}. {pg_catch_n:,} entries ({mix}), read whole from position 0 in a "
                "fresh process (the floor through a server-side cursor of 1,000 rows a fetch)."
            ),
            contenders=[
                Contender(
                    "raw psycopg ordered scan (floor)", "floor", "read only", catch("scan", pg_args)
                ),
                Contender(
                    "agentstore postgres store.feed()",
                    "agentstore",
                    "read only",
                    catch("feed", pg_args),
                ),
            ],
        ),
    ]
