"""Opening the ``postgres`` driver: the core's SQL stores on a psycopg backend.

Imported only when a postgres store is opened (it imports psycopg).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from agentstore.errors import StoreError
from agentstore.registry import DriverStores, OpenContext
from agentstore.sql import (
    SCHEMA_VERSION,
    ensure_schema,
    open_sql_stores,
    schema_version,
)

from agentstore_postgres import logs as _logs
from agentstore_postgres.backend import PostgresBackend
from agentstore_postgres.config import PostgresConfig
from agentstore_postgres.connect import conninfo, on_connection, open_pool
from agentstore_postgres.forksafe import renew_in_child
from agentstore_postgres.logs import PgLogStore
from agentstore_postgres.notify import Listener, channel_for
from agentstore_postgres.rls import install, installed, session_flags

# The append statements, where benchmarks/ (an older layout) finds them.
_INSERT = _logs._INSERT
_INSERT_AFTER = _logs._INSERT_AFTER


def open_driver(config: PostgresConfig, context: OpenContext) -> DriverStores:
    """Open the stores ``context`` asks for on the server ``config`` names.

    The schema and tables are created in one transaction before the pool opens: a failure
    (a missing privilege, a newer schema) leaves nothing behind. Without
    ``context.create`` nothing is created; with ``context.read_only`` every session is
    read-only, so a role with SELECT only can read the store.
    """
    rls = config.row_security

    def ready(probe: PostgresBackend) -> bool:
        return schema_version(probe) == SCHEMA_VERSION and (not rls or installed(probe))

    def setup(probe: PostgresBackend) -> None:
        ensure_schema(probe)
        if rls:
            install(probe)

    backend = open_pool(
        config, ready=ready, setup=setup, create=context.create, read_only=context.read_only
    )
    listener: Listener | None = None
    try:
        _row_security(backend)
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


def _row_security(backend: PostgresBackend) -> None:
    """Whether the schema has row-level security, and whether it applies to this role."""
    backend.row_security, backend.rls_applies = session_flags(backend)


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
        schema=schema,
        names=not backend.row_security,  # under RLS: ring only for entries read back
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
        _row_security(backend)
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
