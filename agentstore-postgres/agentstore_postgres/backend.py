"""The SQL :class:`~agentstore.sql.backend.Backend` over psycopg 3.

Imported only when a postgres store is opened (it imports psycopg).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import psycopg
import psycopg_pool
from agentstore.errors import BackendUnavailable, Conflict, StoreError
from agentstore.sql.backend import Dialect, Row, Value

if TYPE_CHECKING:
    from agentstore_postgres.notify import Listener

T = TypeVar("T")

# SQLSTATEs meaning "the server or the connection is gone" rather than "this statement failed".
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# Races a caller resolves by retrying, like a duplicate key.
_CONFLICT_STATES = frozenset({"23505", "40001", "40P01"})
# A write in a read-only transaction (a store opened read_only=True).
_READ_ONLY_STATE = "25006"


@functools.lru_cache(maxsize=512)
def translate_sql(sql: str) -> str:
    """The portable ``?`` placeholder style rewritten for psycopg (``%s``; ``%`` escaped).

    ``?`` inside a quoted literal or identifier is left alone.
    """
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" else ch)
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


class Scrubber:
    """Removes secrets from text that is about to become a message."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the connection or server is unusable, not the statement."""
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.InterfaceError):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        # Raised by libpq on the client side: connect failed or the connection dropped.
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith("08") or state in _UNAVAILABLE_STATES


class ErrorTranslator:
    """Turns psycopg exceptions into agentstore errors, keeping them as ``__cause__``.

    Messages name the server as ``host:port`` and quote only PostgreSQL's primary message,
    never a statement's parameters or detail (which may hold stored values); any secret of
    the configuration that still shows up is replaced by ``***``.
    """

    def __init__(self, where: str, scrub: Scrubber) -> None:
        self.where = where
        self.scrub = scrub

    def __call__(self, exc: BaseException, doing: str = "") -> NoReturn:
        what = f" ({doing})" if doing else ""
        if isinstance(exc, psycopg_pool.PoolTimeout):
            raise BackendUnavailable(
                self.scrub(
                    f"PostgreSQL at {self.where}: no connection available{what}: {_first_line(exc)}"
                )
            ) from exc
        if isinstance(exc, psycopg_pool.PoolClosed):
            raise StoreError(f"the postgres store on {self.where} is closed") from exc
        if is_connection_error(exc):
            raise BackendUnavailable(
                self.scrub(f"cannot reach PostgreSQL at {self.where}{what}: {_reason(exc)}")
            ) from exc
        if isinstance(exc, psycopg.Error):
            state = exc.sqlstate or ""
            if state == _READ_ONLY_STATE:  # the server's text names the wrong statement
                raise StoreError(
                    f"PostgreSQL at {self.where}{what}: the store was opened read-only; "
                    "nothing was written"
                ) from exc
            text = self.scrub(f"PostgreSQL at {self.where}{what}: {_reason(exc)}")
            if state in _CONFLICT_STATES:
                raise Conflict(text) from exc
            raise StoreError(text) from exc
        raise exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _reason(exc: BaseException) -> str:
    # The primary message only: DETAIL lines repeat key values, which may be stored data.
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    reason = primary or _first_line(exc)
    state = getattr(exc, "sqlstate", None)
    return f"{reason} [SQLSTATE {state}]" if state else reason


class ConnectionSource(Protocol):
    """Where the backend gets a connection for one statement or one transaction."""

    def acquire(self) -> psycopg.Connection[Any]: ...

    def release(self, conn: psycopg.Connection[Any]) -> None: ...

    def must_wrap(self, conn: psycopg.Connection[Any]) -> bool:
        """True unless one statement on ``conn`` commits on its own, alone."""
        ...

    def close(self) -> None: ...


class PoolSource:
    """A psycopg_pool of autocommit connections owned by the store."""

    def __init__(self, pool: psycopg_pool.ConnectionPool[Any], timeout: float) -> None:
        self.pool = pool
        self._timeout = timeout

    def acquire(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = self.pool.getconn(timeout=self._timeout)
        return conn

    def release(self, conn: psycopg.Connection[Any]) -> None:
        self.pool.putconn(conn)

    def must_wrap(self, conn: psycopg.Connection[Any]) -> bool:
        return False  # autocommit, and never left inside a transaction

    def discard_broken(self) -> None:
        """Ask the pool to test its idle connections (after one was found dead)."""
        with contextlib.suppress(Exception):
            self.pool.check()

    def close(self) -> None:
        self.pool.close()


class OwnedConnectionSource:
    """One connection the application owns, shared by the store's threads one at a time.

    The store never closes it. A lock keeps one thread's transaction from interleaving
    with another's statements.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._lock = threading.RLock()

    def must_wrap(self, conn: psycopg.Connection[Any]) -> bool:
        # Outside autocommit a statement would leave a transaction open; inside the
        # application's transaction it needs a savepoint, so a failure spares the rest.
        idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        return not (conn.autocommit and idle)

    def acquire(self) -> psycopg.Connection[Any]:
        self._lock.acquire()
        return self.conn

    def release(self, conn: psycopg.Connection[Any]) -> None:
        self._lock.release()

    def close(self) -> None:
        return None


class PostgresBackend:
    """A thread-safe :class:`~agentstore.sql.backend.Backend` on PostgreSQL.

    Statements outside :meth:`transaction` commit on their own. A transaction belongs to
    the thread that opened it: every statement that thread issues inside the block runs on
    the same connection; other threads use other connections (or, on a shared application
    connection, wait for the block to end). A nested :meth:`transaction` joins the outer
    one. After an error inside a transaction PostgreSQL accepts nothing but a rollback, so
    let the error leave the block; a retry starts a new transaction.
    """

    dialect = Dialect.POSTGRES

    def __init__(
        self,
        source: ConnectionSource,
        *,
        location: str,
        secrets: Sequence[str] = (),
        schema: str = "public",
    ) -> None:
        self.source = source
        self.schema = schema
        self.location = location
        # Set by the driver when commits are announced (see agentstore_postgres.notify).
        self.notify_channel: str | None = None
        self.listener: Listener | None = None
        # Row-level security (agentstore_postgres.rls): installed on the schema (then
        # announcements name no stream), and applying to this role (then no COPY).
        self.row_security = False
        self.rls_applies = False
        self.origin = uuid.uuid4().hex[:16]
        self.translate_error = ErrorTranslator(location, Scrubber(secrets))
        self._local = threading.local()
        self._cursors: weakref.WeakKeyDictionary[psycopg.Connection[Any], psycopg.Cursor[Any]]
        self._cursors = weakref.WeakKeyDictionary()
        self._closed = False

    # -- connections ---------------------------------------------------------------------

    def _tx_conn(self) -> psycopg.Connection[Any] | None:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        return conn

    def _cursor(self, conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
        # One cursor per connection, reused: a connection serves one thread at a time,
        # and building a cursor per statement costs more than the statement's own Python.
        cur = self._cursors.get(conn)
        if cur is None or cur.closed:
            cur = self._cursors[conn] = conn.cursor()
        return cur

    def run(
        self, fn: Callable[[psycopg.Cursor[Any]], T], doing: str = "", *, atomic: bool = False
    ) -> T:
        """Call ``fn(cursor)`` and commit what it executes, translating errors.

        Inside the calling thread's transaction ``fn`` joins it. Otherwise a single
        statement commits on its own; with ``atomic``, all of ``fn``'s statements commit
        together or not at all. ``fn`` must fetch what it needs before returning.
        """
        try:
            tx = getattr(self._local, "conn", None)
            if tx is not None:
                return fn(self._cursor(tx))
            source = self.source
            conn = source.acquire()
            try:
                if not atomic and not source.must_wrap(conn):
                    return fn(self._cursor(conn))
                with conn.transaction():
                    return fn(self._cursor(conn))
            finally:
                source.release(conn)
        except StoreError:
            raise
        except Exception as exc:
            if is_connection_error(exc) and isinstance(self.source, PoolSource):
                self.source.discard_broken()
            self.translate_error(exc, doing)

    # -- the Backend protocol ------------------------------------------------------------

    def exec(self, sql: str, params: Sequence[Value] = ()) -> int:
        query = translate_sql(sql)
        return self.run(lambda cur: cur.execute(query, params).rowcount)

    def exec_many(self, sql: str, rows: Sequence[Sequence[Value]]) -> None:
        if not rows:
            return
        query = translate_sql(sql)
        # atomic even outside a transaction: a half-applied batch is never visible
        self.run(lambda cur: cur.executemany(query, rows), atomic=True)

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        query = translate_sql(sql)
        rows: list[Row] = self.run(lambda cur: cur.execute(query, params).fetchall())
        return rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._tx_conn() is not None:
            yield  # a nested scope joins the outer transaction
            return
        try:
            conn = self.source.acquire()
        except Exception as exc:
            self.translate_error(exc, "connecting")
        try:
            try:
                with conn.transaction():
                    self._local.conn = conn
                    try:
                        yield
                    finally:
                        self._local.conn = None
            except StoreError:
                raise
            except psycopg.Error as exc:
                if is_connection_error(exc) and isinstance(self.source, PoolSource):
                    self.source.discard_broken()
                self.translate_error(exc, "committing")
        finally:
            self.source.release(conn)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.source.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.location} schema={self.schema!r}>"


__all__ = [
    "ConnectionSource",
    "ErrorTranslator",
    "OwnedConnectionSource",
    "PoolSource",
    "PostgresBackend",
    "Scrubber",
    "is_connection_error",
    "translate_sql",
]
