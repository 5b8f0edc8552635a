"""Growth: single appends to a log already holding many entries, against an empty one.

Issue 15 asks that appends to a log of 1,000,000 entries (positions included) run at least
0.9x the rate of appends to an empty log, on SQLite and on PostgreSQL. Both contenders of a
scenario are agentstore, with the same settings; one's log is filled first (with
``append_many``, batches of 10,000, before any sample), the other's starts empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import PAYLOAD, STREAM, Settings, agentstore_sqlite_durability
from benchmarks.harness import CallRunner, Contender, Runner, Scenario, repeat
from benchmarks.postgres_log import Pg, _where
from benchmarks.verify import BUILD_BATCH

EMPTY = "agentstore {}, empty log (baseline)"
FULL = "agentstore {}, log holding {:,} entries"


def _fill(log: Any, entries: int) -> None:
    left = entries
    while left:
        k = min(left, BUILD_BATCH)
        log.append_many([PAYLOAD] * k)
        left -= k


def _sqlite(path: Path, entries: int, n: int) -> Runner:
    from benchmarks.common import open_agentstore

    store = open_agentstore("sqlite", {"path": str(path), "synchronous": "NORMAL"})
    try:
        log = store.log(STREAM, writer="growth")
        _fill(log, entries)
    except BaseException:
        store.close()
        raise
    return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)


def _postgres(pg: Pg, writer: str, entries: int, n: int) -> Runner:
    from benchmarks.common import driver_accepts, open_agentstore

    pg.ensure()
    section: dict[str, Any] = {"url": pg.url_in_schema(), "schema": pg.schema}
    if driver_accepts("postgres", "schema"):
        section["url"] = pg.url
    section["pool_min_size"] = section["pool_max_size"] = 1
    store = open_agentstore("postgres", section)
    try:
        log = store.log(STREAM, writer=writer)
        _fill(log, entries)
    except BaseException:
        store.close()
        raise
    if entries:
        # What autovacuum would have done to a table that grew over time. Never on the
        # empty one: statistics saying "empty" make the planner scan it whole as it grows.
        with pg.connect() as conn:
            conn.execute("VACUUM ANALYZE agentstore_log, agentstore_log_heads")
    return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)


def scenarios(settings: Settings) -> list[Scenario]:
    entries = settings.n(1_000_000, 10_000)
    single = settings.n(2000, 300)
    pg_single = settings.n(1000, 50)
    pg, pg_full = Pg(settings), Pg(settings)  # one schema each: an empty table, a full one
    skipped = pg.probe() or pg_full.probe()
    dur = agentstore_sqlite_durability()
    return [
        Scenario(
            key="sqlite-growth",
            title=f"SQLite: single appends to a log holding {entries:,} entries vs an empty one",
            unit="appends",
            note=(
                f"{single} appends per sample, one writer, synchronous=NORMAL. The full log "
                f"was filled with {entries:,} 256-byte entries before the first sample."
            ),
            contenders=[
                Contender(
                    EMPTY.format("sqlite"),
                    "floor",
                    dur,
                    lambda: _sqlite(settings.path("growth-empty") / "g.db", 0, single),
                ),
                Contender(
                    FULL.format("sqlite", entries),
                    "agentstore",
                    dur,
                    lambda: _sqlite(settings.path("growth-full") / "g.db", entries, single),
                ),
            ],
        ),
        Scenario(
            key="postgres-growth",
            title=(
                f"PostgreSQL: single appends to a log holding {entries:,} entries vs an empty one"
            ),
            unit="appends",
            skipped=skipped,
            note=(
                f"PostgreSQL {pg.version} at {_where(pg.url)}. {pg_single} appends per "
                f"sample, one writer, one connection, each log in a schema of its own, the full "
                f"one filled with {entries:,} 256-byte entries, then vacuumed and analyzed, "
                "before the first sample."
            ),
            contenders=[
                Contender(
                    EMPTY.format("postgres"),
                    "floor",
                    pg.durability,
                    lambda: _postgres(pg, "growth-empty", 0, pg_single),
                ),
                Contender(
                    FULL.format("postgres", entries),
                    "agentstore",
                    pg.durability,
                    lambda: _postgres(pg_full, "growth-full", entries, pg_single),
                ),
            ],
        ),
    ]
