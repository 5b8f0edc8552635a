"""agentstore driver ``postgres``: every capability on a PostgreSQL server you already run.

Select it in a policy::

    [store]
    backend = "postgres"

    [store.postgres]
    url = { env = "AGENTSTORE_POSTGRES_URL" }

or open a store on a psycopg connection your application already owns with
:func:`open_on_connection`. Importing this package does not import psycopg; opening a
store does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentstore_postgres.config import PostgresConfig

if TYPE_CHECKING:
    from agentstore import Clock, Store

    from agentstore_postgres.rls import disable_row_security, grant_tenant, revoke_tenant

__version__ = "0.1.0"


def open_on_connection(conn: Any, *, notify: bool = False, clock: Clock | None = None) -> Store:
    """A :class:`~agentstore.Store` on a psycopg 3 connection the application owns.

    agentstore's tables (all prefixed ``agentstore_``) are created, if missing, in the
    connection's current schema, beside the application's own: one database, one
    connection. The store never closes the connection; closing the store releases only
    what it opened itself (the LISTEN connection when ``notify`` is on).

    The store's calls take turns on the connection, each in its own transaction. Called
    while the application holds a transaction open on that connection, a store call joins
    it (as a savepoint): its writes become durable, and visible to other processes, when
    the application commits, and vanish if it rolls back. The local doorbell still rings
    as the call returns; announcements to other processes (``notify``) go out only on the
    real commit.

    Args:
        conn: a ``psycopg.Connection``, in autocommit mode or not.
        notify: announce commits to stores in other processes and hear theirs (LISTEN and
            NOTIFY on the schema's channel; opens one more connection with the same
            credentials).
        clock: seconds since the epoch for expiry and liveness (default ``time.time``).

    Raises:
        StoreError: the connection is closed, or the schema could not be prepared.
    """
    from agentstore import Registry, StorePolicy
    from agentstore import open as open_store
    from agentstore.driver import DriverSpec
    from agentstore.registry import NoConfig

    from agentstore_postgres.driver import open_on_connection_stores

    registry = Registry(load_entry_points=False)
    registry.register(
        DriverSpec(
            name="postgres",
            open=lambda _config, context: open_on_connection_stores(conn, context, notify=notify),
            config_model=NoConfig,
            description="postgres on an application's connection",
        )
    )
    return open_store(StorePolicy("postgres"), registry=registry, clock=clock)


def __getattr__(name: str) -> Any:
    # The row-level security API loads psycopg only when used.
    if name in _RLS:
        from agentstore_postgres import rls

        return getattr(rls, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_RLS = frozenset({"grant_tenant", "revoke_tenant", "disable_row_security"})

__all__ = [
    "PostgresConfig",
    "disable_row_security",
    "grant_tenant",
    "open_on_connection",
    "revoke_tenant",
]
