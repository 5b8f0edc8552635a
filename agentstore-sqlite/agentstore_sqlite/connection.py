"""The SQL substrate's :class:`~agentstore.sql.Backend` on one stdlib ``sqlite3`` connection.

One connection per store, used under a re-entrant lock: calls from several threads take
turns in this process, and SQLite's own file locks (with ``busy_timeout``) order them
against other processes. Single statements run in autocommit mode; transactions are
``BEGIN IMMEDIATE``, so a read inside one sees the latest commit and no other writer can
commit before it ends.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from agentstore.errors import BackendUnavailable, Conflict, StoreError
from agentstore.sql.backend import Dialect, Row, Value

from agentstore_sqlite.forksafe import track
from agentstore_sqlite.schema import SQLITE_LAYOUT

_UNIQUE: Final = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})
_UNAVAILABLE: Final = (
    "SQLITE_CANTOPEN",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_PERM",
    "SQLITE_AUTH",
    "SQLITE_PROTOCOL",
)


class SqliteBackend:
    """A thread-safe :class:`~agentstore.sql.Backend` over one ``sqlite3.Connection``.

    Attributes:
        location: the database file, or ``:memory:``, for messages.
        path: the database file, or None for an in-memory or wrapped connection whose
            file other processes cannot be pointed at.
        owned: whether :meth:`close` closes the connection (False for a connection the
            application handed in).
        file_id: ``(st_dev, st_ino)`` of the file opened at ``path``, to tell it from
            another file moved to that path later; None without a path.
        wal: whether the file is in WAL mode, where a long read holds no writer back.
        read_only: whether the connection only reads (every write fails).
        immutable: whether the file is read as SQLite's ``immutable`` (a read-only open
            of a WAL file nobody has open, in a place where SQLite could not make its
            ``-shm`` and ``-wal`` files, or should not leave them behind).
    """

    dialect: Final = Dialect.SQLITE
    schema_layout: Final = SQLITE_LAYOUT

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        location: str,
        path: Path | None = None,
        owned: bool = True,
        busy_timeout: float | None = None,
    ) -> None:
        self.location = location
        self.path = path
        self.owned = owned
        self.busy_timeout = busy_timeout
        self.file_id: tuple[int, int] | None = None
        self.wal = False
        self.read_only = False
        self.immutable = False
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0  # nesting of transaction() scopes; only the lock holder reads it
        self._closed = False
        # A connection the application owns may be in its own transaction, or in the
        # legacy mode where sqlite3 opens transactions implicitly: there every store
        # write runs in an explicit transaction of its own.
        self._explicit = not owned
        # How a forked child opens its own connection to the file (see forksafe).
        self.reconnect: Callable[[], sqlite3.Connection] | None = None
        track(self)

    # -- the Backend protocol --------------------------------------------------------------

    def exec(self, sql: str, params: Sequence[Value] = ()) -> int:
        with self._lock:
            self._check_open()
            if self._explicit and not self._depth:
                with self.transaction():
                    return self.exec(sql, params)
            try:
                return self._conn.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def exec_many(self, sql: str, rows: Sequence[Sequence[Value]]) -> None:
        with self._lock:
            self._check_open()
            if not self._depth:
                with self.transaction():
                    self.exec_many(sql, rows)
                return
            try:
                self._conn.executemany(sql, rows)
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        with self._lock:
            self._check_open()
            if self._explicit and not self._depth:
                with self.transaction():
                    return self.query(sql, params)
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            conn = self._conn
            if self._explicit and conn.in_transaction:
                raise StoreError(
                    f"{self.location}: the wrapped sqlite3 connection has a transaction open; "
                    "commit or roll it back before calling the store"
                )
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            self._depth = 0
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise self._error(exc) from exc

    def close(self) -> None:
        """Stop serving: every later call raises StoreError. Closes the connection only if
        the backend owns it (a wrapped connection stays the application's, open)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.owned:
                self._conn.close()

    # -- beyond the protocol ----------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The lock every call takes: held, it keeps several calls of one thread together."""
        return self._lock

    @property
    def in_transaction(self) -> bool:
        """Whether the calling thread, holding :attr:`lock`, is inside :meth:`transaction`."""
        return self._depth > 0

    def scrub(self) -> None:
        """Rewrite the database so no unused space keeps old bytes (``VACUUM``), then copy
        the write-ahead log into the file and truncate it (``wal_checkpoint(TRUNCATE)``),
        waiting up to ``busy_timeout`` for other connections' reads to end.

        What it cannot finish (another connection still reading, statements of a wrapped
        connection still open) is logged as a warning naming the file, not raised: it is
        called after a change has committed. The next complete checkpoint ends it.
        """
        with self._lock:
            self._check_open()
            conn = self._conn
            problem = ""
            if self._depth or conn.in_transaction:
                problem = "a transaction is open on the connection"
            else:
                try:
                    conn.execute("VACUUM")
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except sqlite3.Error as exc:
                    problem = str(self._error(exc))
                else:
                    if busy:
                        problem = "another connection kept reading the -wal file"
        if problem:
            import logging  # deferred: only a failed scrub needs it

            logging.getLogger("agentstore.sqlite").warning(
                "%s: the erased bytes may remain in unused space or the -wal file until "
                "the next VACUUM and complete checkpoint: %s",
                self.location,
                problem,
            )

    # -- helpers ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        # A wrapped connection stays open after close, so refuse here rather than rely on
        # sqlite3 refusing a closed connection.
        if self._closed:
            raise StoreError(f"{self.location}: the store is closed")

    def _rollback(self) -> None:
        conn = self._conn
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite already rolled back (an I/O or disk-full error does that)

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """The agentstore error for a sqlite3 error; never quotes a bound value."""
        name = getattr(exc, "sqlite_errorname", None) or ""
        where = self.location
        if name in _UNIQUE:
            return Conflict(f"{where}: {exc}")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            waited = f" for more than busy_timeout ({self.busy_timeout:g} s)"
            return BackendUnavailable(
                f"{where}: the database stayed locked by another connection"
                f"{waited if self.busy_timeout is not None else ''} ({exc})"
            )
        if name.startswith("SQLITE_READONLY"):
            if self.read_only:
                return StoreError(f"{where}: the store was opened read-only; nothing was written")
            return BackendUnavailable(f"{where}: the database cannot be written ({exc})")
        if name.startswith(_UNAVAILABLE):
            return BackendUnavailable(f"{where}: {exc}")
        return StoreError(f"{where}: {exc}")

    def __repr__(self) -> str:
        return f"<SqliteBackend {self.location}{' closed' if self._closed else ''}>"


__all__ = ["SqliteBackend"]
