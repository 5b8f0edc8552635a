"""Opening the ``sqlite`` driver: from a policy section, or on an application's connection."""

from __future__ import annotations

import logging
import sqlite3
import time
import warnings
from dataclasses import replace
from pathlib import Path

from agentstore import CAPABILITIES, CapabilityName, Clock, Doorbell, Store, StoreError, StorePolicy
from agentstore.driver import DriverStores, OpenContext
from agentstore.errors import InvalidInput
from agentstore.sql import open_sql_stores

from agentstore_sqlite.backend import SqliteBackend, check_sqlite_version, open_file, open_memory
from agentstore_sqlite.config import SqliteConfig
from agentstore_sqlite.logs import SqliteLogStore

DRIVER_NAME = "sqlite"
log = logging.getLogger("agentstore.sqlite")


def open_backend(
    config: SqliteConfig,
    base_dir: Path | None = None,
    *,
    create: bool = True,
    read_only: bool = False,
) -> SqliteBackend:
    """The backend a config describes (relative paths taken from ``base_dir``, else the
    working directory); with ``create=False`` a missing file is refused, not created, and
    with ``read_only`` the file is only read (see :func:`open_file`)."""
    if config.in_memory:
        return open_memory()
    return open_file(
        config.resolve_path(base_dir if base_dir is not None else Path.cwd()),
        synchronous=config.synchronous,
        journal_mode=config.journal_mode,
        busy_timeout=config.busy_timeout,
        create=create,
        read_only=read_only,
    )


def open_driver(config: SqliteConfig, context: OpenContext) -> DriverStores:
    """The driver's ``open``: every asked-for capability on one SQLite database.

    An in-memory database is new at every open and outlives nothing, so ``create`` and
    ``read_only`` do not apply to it."""
    if config.in_memory:
        context = replace(context, create=True, read_only=False)
    backend = open_backend(
        config, context.base_dir, create=context.create, read_only=context.read_only
    )
    try:
        if config.watch:
            stores = _watching_stores(backend, context, config.verify_workers)
        else:
            stores = _stores(backend, context, config.verify_workers)
    except BaseException:
        backend.close()
        raise
    mode = "read-only" if context.read_only else f"synchronous={config.synchronous}"
    log.info("opened %s (%s, journal_mode=%s)", backend.location, mode, config.journal_mode)

    # A watching store stops its watcher before closing the backend.
    closing = stores.close if config.watch else backend.close

    def close() -> None:
        closing()
        log.info("closed %s", backend.location)

    stores.close = close
    return stores


def _stores(backend: SqliteBackend, context: OpenContext, workers: int) -> DriverStores:
    def log_store(_: object) -> SqliteLogStore:
        return SqliteLogStore(backend, verify_workers=workers)

    return open_sql_stores(backend, context, log_store=log_store)


def _watching_stores(backend: SqliteBackend, context: OpenContext, workers: int) -> DriverStores:
    """The stores, ringing ``context``'s doorbell for other stores' commits too
    (``watch = true``, see :mod:`agentstore_sqlite.watch`)."""
    from agentstore_sqlite.watch import WatchedLogStore, open_watching

    built: list[WatchedLogStore] = []

    def log_store(_: object) -> WatchedLogStore:
        built.append(WatchedLogStore(backend, verify_workers=workers))  # after the schema
        return built[-1]

    stores = open_sql_stores(backend, context, log_store=log_store)
    if stores.logs is not None:
        open_watching(backend, context.doorbell, stores, built[-1])
    return stores


def open_on_connection(conn: sqlite3.Connection, *, clock: Clock | None = None) -> Store:
    """A :class:`~agentstore.Store` on a ``sqlite3.Connection`` the application already owns.

    The store's tables (all named ``agentstore_*``) are created in that connection's
    database beside the application's own, so both live in one file. Closing the store
    leaves the connection open: it stays the application's.

    Rules for the shared connection:
      - every store call commits its own work; a store call made while the application
        has a transaction open on the connection raises StoreError rather than commit or
        roll back the application's work;
      - the store serialises its own use of the connection; if the application uses it
        from several threads too, create it with ``check_same_thread=False`` and do not
        use it while a store call is running;
      - journal mode, synchronous and busy timeout stay as the application set them
        (WAL and a busy timeout are recommended when several processes share the file).

    Raises:
        InvalidInput: ``conn`` is not a usable ``sqlite3.Connection``.
        BackendUnavailable: SQLite is older than 3.35.
        SchemaVersionError: the database holds a newer agentstore schema.
    """
    if not isinstance(conn, sqlite3.Connection):
        raise InvalidInput(f"expected a sqlite3.Connection, not {type(conn).__name__}")
    check_sqlite_version()
    if getattr(conn, "autocommit", None) is False:
        raise InvalidInput(
            "the connection was made with autocommit=False, so it is always inside a "
            "transaction; give the store a connection with autocommit=True or the default "
            "transaction control"
        )
    caps = frozenset(CAPABILITIES)
    try:
        rows = conn.execute("PRAGMA database_list").fetchall()
    except sqlite3.Error as exc:
        raise InvalidInput(f"the sqlite3 connection is not usable: {exc}") from exc
    main = next((r[2] for r in rows if r[1] == "main"), "")
    location = main or ":memory:"
    backend = SqliteBackend(conn, location=location, owned=False)
    doorbell = Doorbell()
    context = OpenContext(capabilities=caps, doorbell=doorbell, clock=clock or time.time)
    stores = _stores(backend, context, 1)
    routes: dict[CapabilityName, str] = dict.fromkeys(caps, DRIVER_NAME)
    policy = StorePolicy(DRIVER_NAME, sections={DRIVER_NAME: {"path": location}})
    return Store(policy, {DRIVER_NAME: stores}, routes, doorbell)


def wrap_connection(conn: sqlite3.Connection, *, clock: Clock | None = None) -> Store:
    """Deprecated: the name :func:`open_on_connection` had before both SQL drivers named
    it alike. Warns, then does the same."""
    warnings.warn(
        "agentstore_sqlite.wrap_connection is renamed open_on_connection (as in "
        "agentstore_postgres); use that name",
        DeprecationWarning,
        stacklevel=2,
    )
    return open_on_connection(conn, clock=clock)


open_stores = open_driver
"""The name :func:`open_driver` had before every driver's open function was named alike."""

__all__ = [
    "DRIVER_NAME",
    "StoreError",
    "open_backend",
    "open_driver",
    "open_on_connection",
    "open_stores",
    "wrap_connection",
]
