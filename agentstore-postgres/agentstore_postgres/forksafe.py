"""Fork safety: a process never uses, closes or finishes a connection another process opened.

After ``os.fork()`` the child holds copies of its parent's pool, connections and LISTEN
connection, whose sockets the parent still uses. Closing one there would send PostgreSQL a
Terminate message on the parent's session; using one would interleave two processes'
statements on it. So the child abandons them: they are kept referenced (never closed, and
psycopg's own finalizer does not finish a connection made in another process), and the
child opens its own pool on its first call. The parent's pool is never touched.

Imported only when a postgres store is opened (it imports psycopg).
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg_pool
from agentstore.errors import StoreError

from agentstore_postgres.backend import OwnedConnectionSource, PoolSource, PostgresBackend

if TYPE_CHECKING:
    from agentstore_postgres.notify import Listener

_abandoned: list[object] = []

log = logging.getLogger("agentstore.postgres")


def abandon(obj: object) -> None:
    """Keep ``obj`` (inherited from a parent process) referenced so nothing finalizes it."""
    _abandoned.append(obj)


class ForkSafePoolSource(PoolSource):
    """A pool that is renewed, never shared, in a forked child.

    In the process that opened it, it is the pool. In a child, the first acquire (or
    release) abandons the inherited pool and opens a new one with the same settings, and
    runs every callback of :attr:`on_renew` (the driver renews the store's identity and its
    LISTEN thread there). A connection acquired before the fork and released in the child
    is abandoned, not returned. Closing the store in a child closes only what the child
    opened.
    """

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool[Any],
        timeout: float,
        *,
        make_pool: Callable[[], psycopg_pool.ConnectionPool[Any]],
    ) -> None:
        super().__init__(pool, timeout)
        self._make_pool = make_pool
        self._pid = os.getpid()
        self._renew_lock = threading.Lock()
        self._closed = False
        self.on_renew: list[Callable[[], object]] = []

    def acquire(self) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():
            self._renew()
        return super().acquire()

    def release(self, conn: psycopg.Connection[Any]) -> None:
        if self._pid != os.getpid():
            self._renew()
        pool = self.pool
        if getattr(conn, "_pool", None) is not pool:
            abandon(conn)  # acquired in the parent before the fork: the parent's to finish
            return
        pool.putconn(conn)

    def close(self) -> None:
        self._closed = True
        if self._pid != os.getpid():
            abandon(self.pool)  # the parent's pool: the parent closes it
            return
        self.pool.close()
        log.info("closed the pool %s", self.pool.name)

    def _renew(self) -> None:
        with self._renew_lock:
            pid = os.getpid()
            if self._pid == pid:
                return  # another thread of this child renewed it first
            if self._closed:
                raise StoreError("the postgres store is closed")
            abandon(self.pool)
            pool = self._make_pool()
            pool.open(wait=False)  # getconn waits for a connection, up to the timeout
            self.pool = pool
            self._pid = pid
            log.info("forked child %d: opened a pool of its own (%s)", pid, pool.name)
            for renew in self.on_renew:
                renew()


class ParentOnlyConnectionSource(OwnedConnectionSource):
    """An application's own connection, which a forked child refuses to use.

    The connection belongs to the process that handed it in: a child that inherited it
    must open its own connection and a store on that.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn)
        self._pid = os.getpid()

    def acquire(self) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():
            raise StoreError(
                "this postgres store shares a connection opened in a parent process, which "
                "a forked child must not use: open a connection in this process and a store "
                "on it"
            )
        return super().acquire()

    def release(self, conn: psycopg.Connection[Any]) -> None:
        if self._pid != os.getpid():
            return  # acquire refused, or the lock was taken before the fork
        super().release(conn)


def renew_in_child(backend: PostgresBackend, listener: Listener | None = None) -> None:
    """When a forked child renews ``backend``'s pool, give the child's store an identity of
    its own (so the parent and the child hear each other's announcements) and its own
    LISTEN thread."""
    source = backend.source
    if not isinstance(source, ForkSafePoolSource):
        return

    def renew() -> None:
        backend.origin = uuid.uuid4().hex[:16]
        if listener is not None:
            listener.renew_in_child(backend.origin)

    source.on_renew.append(renew)


__all__ = ["ForkSafePoolSource", "ParentOnlyConnectionSource", "abandon", "renew_in_child"]
