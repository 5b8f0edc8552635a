"""Opening connections and the pool from a :class:`PostgresConfig`. Imports psycopg."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import psycopg
import psycopg_pool
from agentstore.errors import BackendUnavailable, StoreError, StoreNotFound
from agentstore.sql import require_schema
from psycopg import sql

from agentstore_postgres.backend import (
    ErrorTranslator,
    OwnedConnectionSource,
    PostgresBackend,
    Scrubber,
)
from agentstore_postgres.config import PostgresConfig
from agentstore_postgres.forksafe import ForkSafePoolSource, ParentOnlyConnectionSource

log = logging.getLogger("agentstore.postgres")


def conninfo(config: PostgresConfig, *, schema: bool = True, read_only: bool = False) -> str:
    """The libpq connection string of ``config`` (holds the password: never show it).

    With ``schema``, sessions start with the store's schema first on their search_path;
    with ``read_only``, every transaction of the session is read-only.
    """
    base = config.url.get_secret_value() if config.url is not None else ""
    kwargs: dict[str, Any] = config.connect_kwargs()
    opts = [f"-c search_path={config.schema_name}"] if schema else []
    if read_only:
        opts.append("-c default_transaction_read_only=on")
    if opts:
        opt = " ".join(opts)
        kwargs["options"] = f"{kwargs['options']} {opt}" if "options" in kwargs else opt
    try:
        return psycopg.conninfo.make_conninfo(base, **kwargs)
    except psycopg.Error as exc:
        scrub = Scrubber(config.secrets())
        # Not chained: libpq's parse error quotes the whole url, password included, and a
        # cause is shown by every traceback (``--debug``, logger.exception); its text,
        # masked, is in the message.
        raise StoreError(
            scrub(f"invalid PostgreSQL connection settings: {_one_line(exc)}")
        ) from None


def connect(config: PostgresConfig, *, schema: bool = True) -> psycopg.Connection[Any]:
    """One autocommit connection, or BackendUnavailable naming host and port.

    Fails within ``config.connect_timeout`` (libpq counts whole seconds, at least 2).
    """
    info = conninfo(config, schema=schema)
    try:
        return psycopg.connect(info, autocommit=True)
    except psycopg.Error as exc:
        scrub = Scrubber(config.secrets())
        who = f" as user {config.user!r}" if config.user else ""
        raise BackendUnavailable(
            scrub(f"cannot connect to PostgreSQL at {config.target}{who}: {_one_line(exc)}")
        ) from exc


def _one_line(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__


def prepare_schema(conn: psycopg.Connection[Any], config: PostgresConfig) -> None:
    """Create the store's schema if missing, or fail clearly; on failure nothing is left.

    Concurrent openers serialize on a transaction-scoped advisory lock keyed by the schema
    name (opening only; appends never take it).
    """
    name = config.schema_name
    translate = ErrorTranslator(config.target, Scrubber(config.secrets()))
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"agentstore:{name}",))
            exists = conn.execute(
                "SELECT has_schema_privilege(%s, 'USAGE'), has_schema_privilege(%s, 'CREATE')"
                " FROM pg_namespace WHERE nspname = %s",
                (name, name, name),
            ).fetchone()
            if exists is None:
                allowed = conn.execute(
                    "SELECT has_database_privilege(current_database(), 'CREATE')"
                ).fetchone()
                if not (allowed and allowed[0]):
                    raise StoreError(
                        f"schema {name!r} does not exist in {config.target} and the user may "
                        f"not create it: create it (CREATE SCHEMA {name}) or grant CREATE on "
                        f"the database"
                    )
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
            elif not exists[0]:
                raise StoreError(
                    f"the user may not use schema {name!r} in {config.target}: "
                    f"GRANT USAGE, CREATE ON SCHEMA {name} to it"
                )
    except StoreError:
        raise
    except psycopg.Error as exc:
        translate(exc, f"preparing schema {name!r}")


def require_store(
    conn: psycopg.Connection[Any], backend: PostgresBackend, config: PostgresConfig
) -> None:
    """Check, creating nothing, that the config's schema holds an agentstore store this
    code reads as it stands.

    Raises:
        StoreNotFound: the schema does not exist, or holds no agentstore tables.
        StoreError: the user may not use the schema (permission denied).
        SchemaVersionError: the store's schema is newer, or older than this code reads.
    """
    name = config.schema_name
    where = f"PostgreSQL at {config.target}, schema {name!r}"
    found = conn.execute(
        "SELECT has_schema_privilege(%s, 'USAGE') FROM pg_namespace WHERE nspname = %s",
        (name, name),
    ).fetchone()
    if found is None:
        raise StoreNotFound(
            f"{where} does not exist, so it holds no agentstore store; check schema in "
            "[store.postgres]. Nothing was created."
        )
    if not found[0]:
        raise StoreError(
            f"permission denied: the user may not use schema {name!r} in {config.target}: "
            f"GRANT USAGE ON SCHEMA {name} (and SELECT on its tables, to read) to it"
        )
    require_schema(backend, where)


def open_pool(
    config: PostgresConfig,
    *,
    ready: Callable[[PostgresBackend], bool] | None = None,
    setup: Callable[[PostgresBackend], object] | None = None,
    create: bool = True,
    read_only: bool = False,
) -> PostgresBackend:
    """A backend on a new pool, the server and schema checked first with one connection.

    Unless ``ready(probe)`` says the schema is already usable, the schema is created if
    missing and ``setup(probe)`` runs, all in one transaction: if anything fails, nothing
    is left behind. With ``create`` False nothing is created: the schema must hold a
    store already (:func:`require_store`). With ``read_only`` every session of the pool
    is read-only. The pool connects in the background meanwhile.

    Raises:
        BackendUnavailable: the server cannot be reached or refuses the login.
        StoreNotFound: ``create`` is False and the schema holds no agentstore store.
        StoreError: the schema cannot be used or created (naming the missing grant).
    """
    probe = connect(config)
    translate = ErrorTranslator(config.target, Scrubber(config.secrets()))
    info = conninfo(config, read_only=read_only)

    def make_pool() -> psycopg_pool.ConnectionPool[Any]:
        return psycopg_pool.ConnectionPool(
            info,
            kwargs={"autocommit": True},
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            timeout=config.connect_timeout,
            name=f"agentstore:{config.schema_name}",
            open=False,
        )

    pool = make_pool()
    try:
        pool.open(wait=False)
        try:
            checked = PostgresBackend(
                OwnedConnectionSource(probe), location=config.target, secrets=config.secrets()
            )
            if not create:
                require_store(probe, checked, config)
            elif ready is None or not ready(checked):
                with checked.transaction():
                    prepare_schema(probe, config)
                    if setup is not None:
                        setup(checked)
        finally:
            probe.close()
        pool.wait(timeout=config.connect_timeout)
    except BaseException as exc:
        pool.close()
        if isinstance(exc, StoreError) or not isinstance(exc, Exception):
            raise
        translate(exc, "opening the pool")
    log.info(
        "opened a pool of %d..%d connections to %s, schema %s%s",
        pool.min_size,
        pool.max_size,
        config.target,
        config.schema_name,
        " (read-only)" if read_only else "",
    )
    return PostgresBackend(
        ForkSafePoolSource(pool, config.connect_timeout, make_pool=make_pool),
        location=config.target,
        secrets=config.secrets(),
        schema=config.schema_name,
    )


def on_connection(conn: psycopg.Connection[Any]) -> PostgresBackend:
    """A backend sharing an application's own connection (it stays the application's)."""
    info = conn.info
    return PostgresBackend(
        ParentOnlyConnectionSource(conn),
        location=f"{info.host}:{info.port}/{info.dbname}",
        secrets=[info.password] if info.password else [],
    )
