"""agentstore driver ``sqlite``: the embedded default, a local file on the stdlib's sqlite3.

Selected by a policy (``[store] backend = "sqlite"``, settings under ``[store.sqlite]``,
see :class:`SqliteConfig`), or opened on a connection the application already owns with
:func:`open_on_connection`, so the application's tables and the store's share one database::

    import sqlite3
    import agentstore_sqlite

    conn = sqlite3.connect("app.db", isolation_level=None)
    with agentstore_sqlite.open_on_connection(conn) as store:
        store.log("orders", writer="api").append(b"created #42")

Importing this package does not import sqlite3; opening a store does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentstore_sqlite.config import MEMORY, SqliteConfig

if TYPE_CHECKING:
    import sqlite3

    from agentstore import Clock, Store

__version__ = "0.1.0"


def open_on_connection(conn: sqlite3.Connection, *, clock: Clock | None = None) -> Store:
    """A Store on the application's own ``sqlite3.Connection``; see
    :func:`agentstore_sqlite.driver.open_on_connection` for the rules of sharing it."""
    from agentstore_sqlite.driver import open_on_connection as open_on

    return open_on(conn, clock=clock)


def wrap_connection(conn: sqlite3.Connection, *, clock: Clock | None = None) -> Store:
    """Deprecated name of :func:`open_on_connection` (warns, then does the same)."""
    from agentstore_sqlite.driver import wrap_connection as wrap

    return wrap(conn, clock=clock)


__all__ = ["MEMORY", "SqliteConfig", "__version__", "open_on_connection", "wrap_connection"]
