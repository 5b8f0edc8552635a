"""The cross-process doorbell under ``agentstore.aio``: LISTEN as a task on the loop.

The same channel, payloads and rules as :mod:`agentstore_postgres.notify` (whose parsing
and delivery this reuses): a dedicated ``psycopg.AsyncConnection`` LISTENs, and each
announcement of another store's commit rings the store's doorbell, on the event loop.
A lost connection (a server restart, a terminated backend) is logged and reconnected;
commits announced while it was down are not replayed (readers catch up from the log).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import psycopg
from agentstore.doorbell import Doorbell
from psycopg import sql

from agentstore_postgres.notify import (
    RECONNECT_SECONDS,
    deliver,
    log,
    lookup_query,
    parse_anonymous,
)
from agentstore_postgres.positions import event, split


class AsyncListener:
    """A task that LISTENs on one channel and rings a doorbell for others' commits.

    :meth:`start` returns once the LISTEN is in place: every commit announced after it
    returns is delivered (unless the connection is lost meanwhile).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        channel: str,
        origin: Callable[[], str],
        doorbell: Doorbell,
        where: str,
        schema: str | None = None,
        names: bool = True,
    ) -> None:
        self._conninfo = conninfo
        self._schema = schema
        self._names = names
        self._channel = channel
        self._origin = origin
        self._doorbell = doorbell
        self._where = where
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and LISTEN (raising psycopg's error if it cannot), then run as a task."""
        self._conn = await self._connect()
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"agentstore-listen-{self._channel}"
        )

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _run(self) -> None:
        while True:
            conn = self._conn
            try:
                if conn is None or conn.closed:
                    conn = self._conn = await self._connect()
                # One batch at a time: the generator holds the connection, which an
                # anonymous announcement's lookup needs.
                batch: list[str] = []
                async with contextlib.aclosing(conn.notifies(stop_after=1)) as notes:
                    async for note in notes:
                        batch.append(note.payload)
                for payload in batch:
                    await self._deliver(conn, payload)
            except psycopg.Error as exc:
                # Host and port only: the connection string is never shown.
                log.warning(
                    "doorbell listener on %s lost its connection (%s); reconnecting",
                    self._where,
                    type(exc).__name__,
                )
                if conn is not None:
                    await conn.close()
                self._conn = None
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _deliver(self, conn: psycopg.AsyncConnection[Any], payload: str) -> None:
        found = parse_anonymous(payload)
        if found is None:
            deliver(payload, self._origin(), self._doorbell, names=self._names)
            return
        origin, position = found
        if origin == self._origin() or self._schema is None:
            return
        cur = await conn.execute(lookup_query(self._schema), split(position))
        row = await cur.fetchone()
        if row is not None:
            self._doorbell.ring(event(row))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        """End the task and close its connection. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # a cancellation of this call still propagates
            if not task.cancelled() and task.exception() is not None:
                log.warning("doorbell listener on %s had stopped", self._where)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


__all__ = ["AsyncListener"]
