"""Opening the ``postgres`` driver: the core's SQL stores on a psycopg backend.

Imported only when a postgres store is opened (it imports psycopg).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from agentstore.errors import Conflict, StoreError
from agentstore.registry import DriverStores, OpenContext
from agentstore.sql import (
    SCHEMA_VERSION,
    SqlLogStore,
    ensure_schema,
    open_sql_stores,
    schema_version,
)
from agentstore.sql.backend import Backend

from agentstore_postgres.backend import PostgresBackend
from agentstore_postgres.config import PostgresConfig
from agentstore_postgres.connect import conninfo, on_connection, open_pool
from agentstore_postgres.forksafe import renew_in_child
from agentstore_postgres.notify import Listener, announcement, channel_for

_Row = tuple[str, str, int, bytes, bytes | None, bytes]
"""An entry as the substrate writes it, in :class:`~agentstore.types.Entry` field order."""

_COLUMNS = "(stream, writer, seq, payload, prev_hash, content_hash)"
_PREV_EXISTS = (
    "EXISTS (SELECT 1 FROM agentstore_log WHERE stream = %s AND writer = %s AND seq = %s"
    " AND content_hash = %s)"
)
# Every statement that writes an entry moves the log's recorded head in the same statement
# (a data-modifying CTE always runs), so the head commits exactly with its entry.
_RETURNING = "RETURNING stream, writer, seq, content_hash"
_MOVE_HEAD = (
    ", head AS (INSERT INTO agentstore_log_heads AS h (stream, writer, seq, content_hash) "
    "SELECT stream, writer, seq, content_hash FROM ins ON CONFLICT (stream, writer) "
    "DO UPDATE SET seq = excluded.seq, content_hash = excluded.content_hash "
    "WHERE excluded.seq > h.seq)"
)
_INSERT_FIRST_ROW = f"INSERT INTO agentstore_log {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s)"
# The row goes in only if the entry it chains to is really there: a cached head that a
# rolled-back transaction left behind (or a log changed behind our back) fails the guard
# instead of leaving a gap, and the append re-reads the head.
_INSERT_AFTER_ROW = (
    f"INSERT INTO agentstore_log {_COLUMNS} SELECT %s, %s, %s, %s, %s, %s WHERE {_PREV_EXISTS}"
)
_INSERT = f"WITH ins AS ({_INSERT_FIRST_ROW} {_RETURNING}){_MOVE_HEAD} SELECT count(*) FROM ins"
_INSERT_AFTER = (
    f"WITH ins AS ({_INSERT_AFTER_ROW} {_RETURNING}){_MOVE_HEAD} SELECT count(*) FROM ins"
)
_INSERT_AFTER_NOTIFY = (
    f"WITH ins AS ({_INSERT_AFTER_ROW} {_RETURNING}){_MOVE_HEAD} SELECT pg_notify(%s, %s) FROM ins"
)
_INSERT_FIRST_NOTIFY = (
    f"WITH ins AS ({_INSERT_FIRST_ROW} {_RETURNING}){_MOVE_HEAD} SELECT pg_notify(%s, %s) FROM ins"
)
_MOVE_HEAD_TO = (
    "INSERT INTO agentstore_log_heads AS h (stream, writer, seq, content_hash) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (stream, writer) DO UPDATE SET seq = excluded.seq, "
    "content_hash = excluded.content_hash WHERE excluded.seq > h.seq"
)
# After a batch's COPY: move the head and check, in the same round trip, that the entry the
# batch chains to is there (when it is not, the transaction is rolled back).
_MOVE_HEAD_AFTER = f"WITH head AS ({_MOVE_HEAD_TO}) SELECT {_PREV_EXISTS}"
_COPY = f"COPY agentstore_log {_COLUMNS} FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "text", "int8", "bytea", "bytea", "bytea"]
_NOTIFY_MANY = "SELECT count(pg_notify(%s, n)) FROM unnest(%s::text[]) AS n"


class PgLogStore(SqlLogStore):
    """The core's log store with PostgreSQL's statements for writing entries.

    One append is one guarded ``INSERT`` (one round trip); a batch is a binary ``COPY``
    in the substrate's transaction. With announcements on, the same statement or
    transaction NOTIFYs each entry, so an entry is announced exactly when it commits.
    """

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        if not isinstance(backend, PostgresBackend):
            raise TypeError("PgLogStore runs on a PostgresBackend")
        self._pg = backend

    def _insert_many(self, rows: Sequence[_Row]) -> None:
        self._pg.run(lambda cur: self._copy(cur, rows), "appending", atomic=True)

    def _insert_one(self, row: _Row) -> None:
        pg = self._pg
        channel = pg.notify_channel
        stream, writer, seq, _, prev, _ = row
        if prev is None:  # genesis: the primary key alone decides
            if channel is None:
                pg.run(lambda cur: cur.execute(_INSERT, row), "appending")
            else:
                first = (*row, channel, self._note(row))
                pg.run(lambda cur: cur.execute(_INSERT_FIRST_NOTIFY, first), "appending")
            return
        if channel is None:
            params = (*row, stream, writer, seq - 1, prev)
            done = pg.run(
                lambda cur: _count(cur.execute(_INSERT_AFTER, params).fetchone()), "appending"
            )
        else:
            announced = (*row, stream, writer, seq - 1, prev, channel, self._note(row))
            done = pg.run(
                lambda cur: len(cur.execute(_INSERT_AFTER_NOTIFY, announced).fetchall()),
                "appending",
            )
        if not done:
            raise Conflict(f"{stream!r}/{writer!r} seq {seq - 1} is not the head this store knew")

    def _copy(self, cur: psycopg.Cursor[Any], rows: Sequence[_Row]) -> None:
        stream, writer, seq, _, prev, _ = rows[0]
        with cur.copy(_COPY) as out:
            out.set_types(_COPY_TYPES)
            for row in rows:
                out.write_row(row)
        last = rows[-1]
        head = (last[0], last[1], last[2], last[5])
        if prev is None:  # genesis: the primary key alone decides
            cur.execute(_MOVE_HEAD_TO, head)
        else:
            found = cur.execute(_MOVE_HEAD_AFTER, (*head, stream, writer, seq - 1, prev)).fetchone()
            if not (found and found[0]):
                raise Conflict(
                    f"{stream!r}/{writer!r} seq {seq - 1} is not the head this store knew"
                )
        channel = self._pg.notify_channel
        if channel is not None:
            cur.execute(_NOTIFY_MANY, (channel, [self._note(row) for row in rows]))

    def _note(self, row: _Row) -> str:
        return announcement(self._pg.origin, row[0], row[1], row[2], row[5])


def _count(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0


def open_driver(config: PostgresConfig, context: OpenContext) -> DriverStores:
    """Open the stores ``context`` asks for on the server ``config`` names.

    The schema and tables are created in one transaction before the pool opens: a failure
    (a missing privilege, a newer schema) leaves nothing behind. Without
    ``context.create`` nothing is created; with ``context.read_only`` every session is
    read-only, so a role with SELECT only can read the store.
    """
    backend = open_pool(
        config,
        ready=lambda probe: schema_version(probe) == SCHEMA_VERSION,
        setup=ensure_schema,
        create=context.create,
        read_only=context.read_only,
    )
    listener: Listener | None = None
    try:
        if config.notify:
            listener = _listen(
                backend, config.schema_name, conninfo(config), config.target, context
            )
        stores = open_sql_stores(backend, context, log_store=PgLogStore)
        renew_in_child(backend, listener)
    except BaseException:
        if listener is not None:
            listener.close()
        backend.close()
        raise
    if listener is not None:
        stores.close = _closer(listener, backend)
    return stores


def _listen(
    backend: PostgresBackend, schema: str, info: str, where: str, context: OpenContext
) -> Listener:
    """Announce this store's commits on the schema's channel and ring ``context``'s
    doorbell for other stores' commits, from a LISTEN thread."""
    backend.notify_channel = channel_for(schema)
    listener = Listener(
        info,
        channel=backend.notify_channel,
        origin=backend.origin,
        doorbell=context.doorbell,
        where=where,
    )
    try:
        listener.start()
    except BaseException as exc:
        listener.close()
        if isinstance(exc, psycopg.Error):
            backend.translate_error(exc, "listening for commits")
        raise
    backend.listener = listener
    return listener


def _closer(listener: Listener, backend: PostgresBackend) -> Callable[[], None]:
    def close() -> None:
        try:
            listener.close()
        finally:
            backend.close()

    return close


def open_on_connection_stores(
    conn: psycopg.Connection[Any], context: OpenContext, *, notify: bool = False
) -> DriverStores:
    """Stores sharing an application's own connection (the incremental-adoption seam).

    Tables live in the connection's current schema (the first of its search_path).
    """
    if conn.closed:
        raise StoreError("the connection given to the postgres store is closed")
    backend = on_connection(conn)
    listener: Listener | None = None
    try:
        schema = backend.query("SELECT current_schema()")[0][0]
        if schema is None:
            raise StoreError(
                "the connection's search_path names no existing schema: create one or set "
                "search_path before opening a store on it"
            )
        if notify:
            info = psycopg.conninfo.make_conninfo(conn.info.dsn, password=conn.info.password)
            listener = _listen(backend, str(schema), info, backend.location, context)
        stores = open_sql_stores(backend, context, log_store=PgLogStore)
    except BaseException:
        if listener is not None:
            listener.close()
        raise
    if listener is not None:
        stores.close = _closer(listener, backend)
    return stores


__all__ = ["PgLogStore", "open_driver", "open_on_connection_stores"]
