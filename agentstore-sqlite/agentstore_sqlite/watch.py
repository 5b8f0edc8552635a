"""The cross-process doorbell on SQLite: ``watch = true`` in ``[store.sqlite]``.

SQLite has no LISTEN/NOTIFY, but it tells a connection cheaply whether anything was
committed since it last looked: ``PRAGMA data_version`` changes when another connection
commits (it reads a counter SQLite keeps in the shared ``-shm`` index, or in the file's
header with a rollback journal; nothing is scanned). A watching store keeps one read-only
connection of its own for that question, asked every :data:`POLL_SECONDS` by a daemon
thread. When the answer changes, the thread reads the store's feed after the last position
it has seen and rings the store's doorbell for every entry this store did not append
itself, in position order (SQLite assigns positions inside its single-writer commit, so
they commit in order and reading ``after=last`` never skips one).

Guarantees:
  - every entry another store commits to the file (another process, or another store on
    the same file in this process; audit records included) rings this store's doorbell
    once, as a :class:`~agentstore.types.CommitEvent` carrying its position, in position
    order, normally within a few tens of milliseconds of its commit;
  - this store's own appends ring once, on the appending thread, as without ``watch``:
    the watcher knows their positions (it waits for appends in flight to report them
    before it decides) and skips them;
  - the thread rings with no store lock held; a subscriber that raises is logged and
    skipped, as for any ring;
  - idle, the thread wakes every :data:`POLL_SECONDS` for one cheap statement: under
    1% of a CPU (``benchmarks/watch.py`` measures it);
  - it holds no read transaction between polls, so it never holds a checkpoint back;
  - :meth:`Watcher.close` (closing the store) stops the thread and closes its connection;
    in a forked child the parent's thread does not exist, the inherited connection is
    released, and the child's store watches again from its first call, on a connection of
    its own, from where the parent had got to (the parent's later commits ring in the
    child, as any other store's do).

A change the watcher cannot read (the file locked past ``busy_timeout``, an I/O error) is
logged and retried at the next poll; a consumer that must see every entry reads the feed
(``store.follow``), and uses the doorbell to be woken.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Final

from agentstore.doorbell import Doorbell
from agentstore.errors import StoreError
from agentstore.types import CommitEvent, Entry

from agentstore_sqlite.connection import SqliteBackend
from agentstore_sqlite.logs import SqliteLogStore

if TYPE_CHECKING:
    from agentstore.driver import DriverStores

log = logging.getLogger("agentstore.sqlite")

POLL_SECONDS: Final = 0.02
"""How often the watcher asks SQLite whether anything was committed: a commit rings about
10 ms after it on average, 20 ms at worst plus the time to read it, at a small idle cost
(``benchmarks/watch.py``)."""

PAGE: Final = 1000
"""Feed events read per query while catching up."""

RETRY_SECONDS: Final = 1.0
"""How long the watcher waits before trying again after an error."""

JOIN_SECONDS: Final = 10.0
"""How long closing waits for the thread to finish the ring in progress."""

_live: weakref.WeakSet[Watcher] = weakref.WeakSet()
_held: list[Watcher] = []
_registry = threading.Lock()


def _data_version(conn: sqlite3.Connection) -> int:
    # fetchall steps the statement to its end, so no read transaction stays open.
    return int(conn.execute("PRAGMA data_version").fetchall()[0][0])


class Watcher:
    """A daemon thread that rings ``doorbell`` for the entries other stores commit.

    Built by :func:`open_watching`; see the module docstring for what it guarantees.
    ``logs`` is the store's log store (its ``_feed`` and ``_position`` are read through the
    store's own connection); ``connect`` opens the watcher's own connection to the file.
    """

    def __init__(
        self,
        backend: SqliteBackend,
        logs: WatchedLogStore,
        doorbell: Doorbell,
        connect: Callable[[], sqlite3.Connection],
    ) -> None:
        self._backend = backend
        self._logs = logs
        self._doorbell = doorbell
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._version = 0
        self._last = 0  # the highest position handled (rung or skipped)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renew_pending = False
        # Held while this process's thread uses ``_conn``, so fork never copies it mid-call.
        self._conn_lock = threading.Lock()
        # This store's own appends: tokens of those in flight, positions of those committed.
        self._own = threading.Condition(threading.Lock())
        self._tokens = itertools.count(1)
        self._in_flight: set[int] = set()
        self._mine: set[int] = set()
        with _registry:
            _live.add(self)

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the watcher's connection, note where the feed stands, start the thread.

        Entries committed before this returns do not ring; every one committed after
        it does. Raises what opening the connection or reading the position raises."""
        self._open_connection()
        self._last = self._logs._position()
        self._run_thread()

    def _open_connection(self) -> None:
        conn = self._connect()
        try:
            conn.execute("PRAGMA query_only = ON")
            version = _data_version(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._version = conn, version

    def _run_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"agentstore-watch-{self._backend.location}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and close its connection. Idempotent; safe from a subscriber
        (the ringing thread then ends after its current ring)."""
        self._stop.set()
        with self._own:
            self._own.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            # It stops between rings; a subscriber that never returns is not waited for.
            thread.join(JOIN_SECONDS)
        with self._conn_lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.close()

    @property
    def running(self) -> bool:
        """Whether the watching thread is alive (in this process)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- this store's own appends ----------------------------------------------------------

    @contextmanager
    def own_append(self) -> Iterator[Callable[[Iterable[Entry]], None]]:
        """Around one of this store's appends: yields ``record(entries)``, to be called
        with what the append committed before the block ends."""
        own = self._own
        with own:
            token = next(self._tokens)
            self._in_flight.add(token)

        def record(entries: Iterable[Entry]) -> None:
            positions = [p for p in (getattr(e, "position", 0) for e in entries) if p]
            if positions:
                with own:
                    self._mine.update(positions)

        try:
            yield record
        finally:
            with own:
                self._in_flight.discard(token)
                own.notify_all()

    def _settle(self) -> None:
        """Wait until every own append in flight now has recorded what it committed."""
        own = self._own
        with own:
            waiting = set(self._in_flight)
            while waiting and not self._stop.is_set():
                waiting &= self._in_flight
                if waiting:
                    own.wait(0.1)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        stop = self._stop
        sleep = time.sleep  # cheaper to wake from than Event.wait, which matters at 50 Hz
        while True:
            sleep(POLL_SECONDS)
            if stop.is_set():
                break
            try:
                if self._changed():
                    self._catch_up()
            except (sqlite3.Error, StoreError) as exc:
                if stop.is_set() or self._backend.closed:
                    break
                log.warning(
                    "watching %s for commits failed (%s: %s); retrying",
                    self._backend.location,
                    type(exc).__name__,
                    exc,
                )
                self._drop_connection()
                stop.wait(RETRY_SECONDS)
            except Exception:  # never let the thread die silently
                if stop.is_set():
                    break
                log.exception("watching %s for commits failed; retrying", self._backend.location)
                stop.wait(RETRY_SECONDS)

    def _changed(self) -> bool:
        with self._conn_lock:
            if self._stop.is_set():
                return False
            if self._conn is None:  # after an error: open again and read the feed once
                self._open_connection()
                return True
            version = _data_version(self._conn)
        if version == self._version:
            return False
        self._version = version
        return True

    def _drop_connection(self) -> None:
        with self._conn_lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with suppress(sqlite3.Error):
                    conn.close()

    def _catch_up(self) -> None:
        while not self._stop.is_set():
            if self._nobody_listens():
                return
            events = list(self._logs._feed(self._last, PAGE))
            if not events:
                return
            self._settle()
            with self._own:
                mine = self._mine
                theirs = [e for e in events if e.position not in mine]
                mine.difference_update(e.position for e in events)
                self._last = events[-1].position
                if mine:  # own positions at or below last were all in events; keep the rest
                    mine.difference_update([p for p in mine if p <= self._last])
            self._ring(theirs)
            if len(events) < PAGE:
                return

    def _nobody_listens(self) -> bool:
        """With no subscriber, move past what is committed without reading it.

        Subscribers are counted again after the position is read: when there is still
        none, nobody was subscribed when any entry at or below it committed. Own
        positions at or below it are never rung, so they need not be told apart."""
        bell = self._doorbell
        if bell.subscriber_count:
            return False
        last = self._logs._position()
        if bell.subscriber_count:
            return False
        with self._own:
            self._last = max(self._last, last)
            self._mine.difference_update([p for p in self._mine if p <= self._last])
        return True

    def _ring(self, events: Sequence[CommitEvent]) -> None:
        bell = self._doorbell
        for event in events:
            if self._stop.is_set():
                return
            bell.ring(event)

    # -- fork ------------------------------------------------------------------------------

    def _before_fork(self) -> None:
        self._conn_lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._conn_lock.release()

    def _after_fork_in_child(self) -> None:
        # The thread does not exist here. Release the child's copy of the connection
        # (closing it drops this process's copy of SQLite's lock records, see forksafe),
        # and watch again from the child's first store call.
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()
        self._conn_lock = threading.Lock()
        self._own = threading.Condition(threading.Lock())
        self._in_flight = set()
        self._thread = None
        self._renew_pending = not self._stop.is_set()

    def renew_in_child(self) -> None:
        """In a forked child, on the store's first call there: watch from this process."""
        if not self._renew_pending or self._stop.is_set():
            return
        self._renew_pending = False
        try:
            with self._conn_lock:
                self._open_connection()
        except (sqlite3.Error, StoreError) as exc:
            # The thread keeps trying, as after an error.
            log.warning(
                "watching %s for commits: cannot open a connection (%s); retrying",
                self._backend.location,
                type(exc).__name__,
            )
        self._run_thread()


class WatchedLogStore(SqliteLogStore):
    """:class:`SqliteLogStore` telling its :class:`Watcher` which positions it committed,
    so the watcher does not ring them a second time."""

    watcher: Watcher | None = None

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        watcher = self.watcher
        if watcher is None:
            return super()._append(stream, writer, payload)
        with watcher.own_append() as record:
            entry = super()._append(stream, writer, payload)
            record((entry,))
        return entry

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        watcher = self.watcher
        if watcher is None:
            return super()._append_many(stream, writer, payloads)
        with watcher.own_append() as record:
            entries = super()._append_many(stream, writer, payloads)
            record(entries)
        return entries

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        watcher = self.watcher
        if watcher is None:
            return super()._append_if(stream, writer, payloads, expect_head)
        with watcher.own_append() as record:
            entries = super()._append_if(stream, writer, payloads, expect_head)
            record(entries)
        return entries


def open_watching(
    backend: SqliteBackend,
    doorbell: Doorbell,
    stores: DriverStores,
    logs: WatchedLogStore,
) -> Watcher | None:
    """Start watching ``backend``'s file for ``stores`` (opened with ``logs``), and make
    closing them stop the watcher first. None, and nothing started, when there is nothing
    to watch: a database not in a file, or a file read as ``immutable`` (nobody writes it).
    """
    connect = backend.reconnect
    if connect is None or backend.path is None or backend.immutable:
        return None
    watcher = Watcher(backend, logs, doorbell, connect)
    logs.watcher = watcher

    def reconnect() -> sqlite3.Connection:
        # What a forked child's store calls on its first use (see forksafe).
        conn = connect()
        watcher.renew_in_child()
        return conn

    watcher.start()
    backend.reconnect = reconnect
    close_stores = stores.close

    def close() -> None:
        try:
            watcher.close()
        finally:
            close_stores()

    stores.close = close
    return watcher


def _before_fork() -> None:
    _registry.acquire()
    for watcher in list(_live):
        watcher._before_fork()  # waits for a poll in progress, if any
        _held.append(watcher)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop()._after_fork_in_parent()
    _registry.release()


def _after_fork_in_child() -> None:
    while _held:
        _held.pop()._after_fork_in_child()
    _registry.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


__all__ = ["PAGE", "POLL_SECONDS", "WatchedLogStore", "Watcher", "open_watching"]
