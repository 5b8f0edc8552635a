"""What commit positions cost a single append: agentstore's statement on the schema before
positions (version 3) against agentstore's statement on today's schema, both run raw.

Both floors write what agentstore writes, the same way (the log's head cached, one
statement per append in its own transaction, BLAKE3 chained in Python), so their ratio is
the price of positions alone; the agentstore row adds the facade around today's statement.
The version 3 schema is built by the very migration steps an upgrade runs (1 to 3), and
its statement is kept here as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PAYLOAD,
    SQLITE_NORMAL,
    STREAM,
    Settings,
    agentstore_sqlite_durability,
    chain,
    open_agentstore,
    sqlite_connect,
)
from benchmarks.harness import CallRunner, Contender, Runner, Scenario, Unavailable, repeat
from benchmarks.postgres_log import Pg, _where

# -- version 3's statements, as they were ------------------------------------------------------

SQLITE_V3_INSERT = (
    "INSERT INTO agentstore_log_append (stream, writer, seq, payload, prev_hash, content_hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_PG_COLUMNS = "(stream, writer, seq, payload, prev_hash, content_hash)"
_PG_RETURNING = "RETURNING stream, writer, seq, content_hash"
_PG_MOVE_HEAD = (
    ", head AS (INSERT INTO agentstore_log_heads AS h (stream, writer, seq, content_hash) "
    "SELECT stream, writer, seq, content_hash FROM ins ON CONFLICT (stream, writer) "
    "DO UPDATE SET seq = excluded.seq, content_hash = excluded.content_hash "
    "WHERE excluded.seq > h.seq)"
)
_PG_PREV_EXISTS = (
    "EXISTS (SELECT 1 FROM agentstore_log WHERE stream = %s AND writer = %s AND seq = %s"
    " AND content_hash = %s)"
)
PG_V3_INSERT = (
    f"WITH ins AS (INSERT INTO agentstore_log {_PG_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s) "
    f"{_PG_RETURNING}){_PG_MOVE_HEAD} SELECT count(*) FROM ins"
)
PG_V3_INSERT_AFTER = (
    f"WITH ins AS (INSERT INTO agentstore_log {_PG_COLUMNS} SELECT %s, %s, %s, %s, %s, %s "
    f"WHERE {_PG_PREV_EXISTS} {_PG_RETURNING}){_PG_MOVE_HEAD} SELECT count(*) FROM ins"
)


def _migrate(run: Callable[[str], object], layout: Any, upto: int) -> None:
    for version in range(1, upto + 1):
        for statement in layout.migrations[version]:
            run(layout.sql(statement))


# -- SQLite ----------------------------------------------------------------------------------


class SqliteStatementLog:
    """One writer's appends as agentstore makes them, by a raw sqlite3 connection."""

    def __init__(self, path: Path, statement: str, writer: str, *, positions: bool) -> None:
        self.conn = sqlite_connect(path, "NORMAL")
        self.statement, self.writer = statement, writer
        self.head: tuple[int, bytes | None] = (0, None)
        # Today's statement takes the next position, as agentstore passes it when it
        # alone writes the file (the unique index would refuse a taken one).
        self.position: int | None = 0 if positions else None

    def append(self) -> None:
        seq, prev = self.head
        digest = chain(prev, PAYLOAD)
        row: tuple[Any, ...] = (STREAM, self.writer, seq + 1, PAYLOAD, prev, digest)
        if self.position is not None:
            self.position += 1
            row = (*row, self.position)
        self.conn.execute(self.statement, row)
        self.head = (seq + 1, digest)

    def close(self) -> None:
        self.conn.close()


def _sqlite_v3(path: Path, n: int) -> Runner:
    try:
        from agentstore_sqlite.schema import SQLITE_LAYOUT
    except ImportError as exc:
        raise Unavailable("agentstore-sqlite is not installed") from exc
    log = SqliteStatementLog(path, SQLITE_V3_INSERT, "v3", positions=False)
    conn = log.conn
    conn.execute("BEGIN IMMEDIATE")
    _migrate(conn.execute, SQLITE_LAYOUT, 3)
    conn.execute("COMMIT")
    return CallRunner(repeat(log.append, n), n, log.close)


def _sqlite_now(path: Path, n: int) -> Runner:
    try:
        from agentstore_sqlite.schema import INSERT_VIA_VIEW
    except ImportError as exc:
        raise Unavailable("agentstore-sqlite is not installed") from exc
    open_agentstore("sqlite", {"path": str(path)}).close()  # today's schema, as agentstore makes it
    log = SqliteStatementLog(path, INSERT_VIA_VIEW, "now", positions=True)
    return CallRunner(repeat(log.append, n), n, log.close)


def _sqlite_agentstore(path: Path, n: int) -> Runner:
    store = open_agentstore("sqlite", {"path": str(path), "synchronous": "NORMAL"})
    log = store.log(STREAM, writer="agentstore")
    return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)


# -- PostgreSQL ------------------------------------------------------------------------------


class PgStatementLog:
    """One writer's appends as agentstore makes them, by a raw psycopg connection: the
    first with the plain INSERT, the others guarded by the entry they chain to."""

    def __init__(self, pg: Pg, first: str, after: str, writer: str) -> None:
        self.conn = pg.connect()
        self.first, self.after, self.writer = first, after, writer
        self.head: tuple[int, bytes | None] = (0, None)

    def append(self) -> None:
        seq, prev = self.head
        digest = chain(prev, PAYLOAD)
        entry = (STREAM, self.writer, seq + 1, PAYLOAD, prev, digest)
        if prev is None:
            self.conn.execute(self.first, entry)
        else:
            self.conn.execute(self.after, (*entry, STREAM, self.writer, seq, prev))
        self.head = (seq + 1, digest)

    def close(self) -> None:
        self.conn.close()


def _pg_v3(pg: Pg, n: int) -> Runner:
    from agentstore.sql.schema import DEFAULT_LAYOUT, SCHEMA_VERSION

    if SCHEMA_VERSION < 3:
        raise Unavailable("this agentstore's schema predates version 3")
    log = PgStatementLog(pg, PG_V3_INSERT, PG_V3_INSERT_AFTER, "v3")
    with log.conn.transaction():
        _migrate(log.conn.execute, DEFAULT_LAYOUT, 3)
    return CallRunner(repeat(log.append, n), n, log.close)


def _pg_now(pg: Pg, n: int) -> Runner:
    try:
        from agentstore_postgres.driver import _INSERT, _INSERT_AFTER
    except ImportError as exc:
        raise Unavailable("agentstore-postgres is not installed") from exc
    pg.ensure()
    open_agentstore("postgres", {"url": pg.url, "schema": pg.schema}).close()
    log = PgStatementLog(pg, _INSERT, _INSERT_AFTER, "now")
    return CallRunner(repeat(log.append, n), n, log.close)


def _pg_agentstore(pg: Pg, n: int) -> Runner:
    pg.ensure()
    section = {"url": pg.url, "schema": pg.schema, "pool_min_size": 1, "pool_max_size": 1}
    store = open_agentstore("postgres", section)
    log = store.log(STREAM, writer="agentstore")
    return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)


# -- scenarios ---------------------------------------------------------------------------------

V3 = "raw {}, schema 3 statement, no positions (floor)"
NOW = "raw {}, agentstore's statement with positions"


def scenarios(settings: Settings) -> list[Scenario]:
    single = settings.n(2000, 300)
    pg_single = settings.n(1000, 50)
    # The v3 floor and today's need a schema each: the same table names, different shapes.
    pg_v3, pg_now, pg_store = Pg(settings), Pg(settings), Pg(settings)
    skipped = pg_v3.probe() or pg_now.probe() or pg_store.probe()
    return [
        Scenario(
            key="sqlite-append-positions",
            title="SQLite: what positions cost a single append (256-byte payload)",
            unit="appends",
            note=(
                f"{single} appends per sample, one writer, WAL, synchronous=NORMAL. Both raw "
                "rows run agentstore's one-statement append (an INSERT into the view whose "
                "trigger writes the entry and moves the head) after a cached head: on schema "
                "3 (no positions), and on today's schema, passing the next position as "
                "agentstore does when it alone writes the file."
            ),
            contenders=[
                Contender(
                    V3.format("sqlite3"),
                    "floor",
                    SQLITE_NORMAL,
                    lambda: _sqlite_v3(settings.path("pos-v3") / "v3.db", single),
                ),
                Contender(
                    NOW.format("sqlite3"),
                    "agentstore",
                    SQLITE_NORMAL,
                    lambda: _sqlite_now(settings.path("pos-now") / "now.db", single),
                ),
                Contender(
                    "agentstore sqlite",
                    "agentstore",
                    agentstore_sqlite_durability(),
                    lambda: _sqlite_agentstore(settings.path("pos-as") / "as.db", single),
                ),
            ],
        ),
        Scenario(
            key="postgres-append-positions",
            title="PostgreSQL: what positions cost a single append (256-byte payload)",
            unit="appends",
            skipped=skipped,
            note=(
                f"PostgreSQL {pg_v3.version} at {_where(pg_v3.url)}. {pg_single} appends per "
                "sample, one writer, one connection. Both raw rows run agentstore's guarded "
                "INSERT that moves the head in the same statement, after a cached head: on "
                "schema 3 (no positions), and on today's schema; each in a schema of its own."
            ),
            contenders=[
                Contender(
                    V3.format("psycopg"),
                    "floor",
                    pg_v3.durability,
                    lambda: _pg_v3(pg_v3, pg_single),
                ),
                Contender(
                    NOW.format("psycopg"),
                    "agentstore",
                    pg_now.durability,
                    lambda: _pg_now(pg_now, pg_single),
                ),
                Contender(
                    "agentstore postgres",
                    "agentstore",
                    pg_store.durability,
                    lambda: _pg_agentstore(pg_store, pg_single),
                ),
            ],
        ),
    ]
