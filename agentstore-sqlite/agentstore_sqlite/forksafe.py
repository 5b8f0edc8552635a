"""Fork safety: a forked child works on its own connection to the same database file.

SQLite supports several processes on one file, but not a connection carried across
``fork()``. Around a fork every store's lock is taken, so no thread of the parent is inside
a SQLite call on a store's connection. In the child, each inherited connection to a file is
then closed at once (closing the child's copy drops the child's copy of SQLite's record of
the parent's file locks; keeping it open would make the child's new connection believe it
holds locks it does not, and a parent closing the file could then checkpoint and delete
the WAL under the child's commits) and a connection of the child's own is opened on its
first call, with the same settings. The parent's connection is never touched.

A connection the application handed in (``open_on_connection``), an in-memory database, and a
store forked in the middle of one of its transactions stay the parent's: in the child they
refuse with a StoreError.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, cast

from agentstore.errors import StoreError

if TYPE_CHECKING:
    from agentstore_sqlite.connection import SqliteBackend

_live: weakref.WeakSet[SqliteBackend] = weakref.WeakSet()
_held: list[SqliteBackend] = []
_inherited: list[object] = []  # never closed, never collected in the child
_registry = threading.Lock()


def track(backend: SqliteBackend) -> None:
    """Make ``backend`` safe across ``os.fork()`` (called by every backend as it opens)."""
    with _registry:
        _live.add(backend)


class _LazyConnection:
    """The child's connection, opened on first use (under the store's lock)."""

    def __init__(self, backend: SqliteBackend, reconnect: Callable[[], sqlite3.Connection]):
        self._backend = backend
        self._reconnect = reconnect
        self._conn: sqlite3.Connection | None = None

    def _real(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._backend._conn = self._reconnect()
        return self._conn

    @property
    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    def execute(self, *args: Any) -> sqlite3.Cursor:
        return self._real().execute(*args)

    def executemany(self, *args: Any) -> sqlite3.Cursor:
        return self._real().executemany(*args)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class _ForkedConnection:
    """Stands in a child for a connection that stays the parent's."""

    in_transaction = False

    def __init__(self, location: str, why: str) -> None:
        self._location = location
        self._why = why

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreError(
            f"{self._location}: this store was opened in a parent process and {self._why}"
        )

    execute = executemany = _refuse

    def close(self) -> None:
        pass


def _before_fork() -> None:
    _registry.acquire()
    for backend in list(_live):
        backend._lock.acquire()  # waits for the store call in progress, if any
        _held.append(backend)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop()._lock.release()
    _registry.release()


def _after_fork_in_child() -> None:
    for backend in _held:
        backend._lock = threading.RLock()
        conn = backend._conn
        reconnect = backend.reconnect
        if backend._closed or isinstance(conn, _ForkedConnection | _LazyConnection):
            pass
        elif backend._depth:
            _inherited.append(conn)
            backend._conn = _refusing(
                backend, "was forked inside one of its transactions: open a store in this process"
            )
        elif not backend.owned:
            _inherited.append(conn)
            backend._conn = _refusing(
                backend,
                "shares the application's connection, which must not cross fork(): open a "
                "connection in this process and wrap that",
            )
        elif reconnect is None:
            _inherited.append(conn)
            backend._conn = _refusing(
                backend,
                "its database is in the parent's memory: open a store in this process",
            )
        else:
            with suppress(sqlite3.Error):
                conn.close()
            backend._conn = cast(sqlite3.Connection, _LazyConnection(backend, reconnect))
        backend._depth = 0
    _held.clear()
    _registry.release()


def _refusing(backend: SqliteBackend, why: str) -> sqlite3.Connection:
    return cast(sqlite3.Connection, _ForkedConnection(backend.location, why))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


__all__ = ["track"]
