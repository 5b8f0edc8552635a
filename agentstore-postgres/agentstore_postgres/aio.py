"""The postgres driver, native to ``agentstore.aio`` (imported only by it).

Generations and logs run on psycopg's ``AsyncConnectionPool``: no thread per call. The
statements are the synchronous driver's own (the core's SQL substrate and
:mod:`agentstore_postgres.logs`), with the same semantics: an append is one guarded
``INSERT`` after the remembered head, moving the recorded head in the same statement (and
announcing the entry when ``notify`` is on); a batch is a binary ``COPY`` in one
transaction; a stale head or a lost race re-reads the head and tries again. Hashing a large
batch and verifying a chain run on the async store's threads. A commit runs as a task of
its own: a cancelled caller waits for it to finish (and ring the doorbell), so an append
is either whole or absent when the cancellation is raised. Appends to one log through
one store commit one at a time, so the doorbell rings in seq order per log. The six
governance stores run on the same pool too (:mod:`agentstore_postgres.aio_governance`), as
do the feed, conditional appends and erasure (:mod:`agentstore_postgres.aio_feed`), and
with ``notify = true`` other stores' commits are heard by a LISTEN task on the loop
(:mod:`agentstore_postgres.aio_notify`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Final, cast

import psycopg
import psycopg_pool
from agentstore.aio._driver import AsyncDriverStores, NativeKit
from agentstore.aio._threads import Offload
from agentstore.capabilities import LogAuditSink, WriterLog, check_int, check_payload
from agentstore.doorbell import Doorbell
from agentstore.errors import NonMonotonicGeneration, StoreError
from agentstore.handles import event_of
from agentstore.registry import DriverStores
from agentstore.sql.governance import (
    SqlCredentialStore,
    SqlLifecycleStore,
    SqlPolicyStore,
    SqlRateLimitCounter,
    SqlSessionStore,
)
from agentstore.sql.logs import SqlGenerationStore, SqlLogStore, _chain
from agentstore.types import Entry

from agentstore_postgres import positions as P
from agentstore_postgres.aio_feed import PgAsyncFeed, Stale
from agentstore_postgres.aio_notify import AsyncListener
from agentstore_postgres.backend import PoolSource, PostgresBackend, translate_sql
from agentstore_postgres.logs import (
    _COPY,
    _COPY_TYPES,
    _INSERT,
    _INSERT_AFTER,
    _INSERT_AFTER_NOTIFY,
    _INSERT_FIRST_NOTIFY,
    _INSERT_ROWS,
    _MOVE_HEAD_AFTER,
    _MOVE_HEAD_TO,
    _NOTIFY_MANY,
    PgLogStore,
    insert_rows_params,
)
from agentstore_postgres.notify import (
    announcement,
    announcement_head,
    anonymous,
    anonymous_head,
)

INLINE_BYTES: Final = 64 * 1024
"""Payload bytes hashed on the loop; a larger append or batch is hashed on a thread."""
MAX_TRIES: Final = 1000

_Row = tuple[str, str, int, bytes, bytes | None, bytes]


class AsyncPg:
    """The pool and error translation the native stores share."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool[Any], sync: PostgresBackend) -> None:
        self.pool = pool
        self.sync = sync
        self.timeout = cast(PoolSource, sync.source)._timeout

    def fail(self, exc: BaseException, doing: str) -> StoreError:
        try:
            self.sync.translate_error(exc, doing)
        except StoreError as err:
            return err
        raise AssertionError("translate_error always raises")  # pragma: no cover

    async def query(self, sql: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        try:
            async with self.pool.connection(timeout=self.timeout) as conn:
                cur = await conn.execute(translate_sql(sql), params)
                rows: list[tuple[Any, ...]] = await cur.fetchall()
                return rows
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise self.fail(exc, doing) from exc

    async def rows(self, sql: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        """:meth:`query` for a statement already in psycopg's ``%s`` placeholders."""
        try:
            async with self.pool.connection(timeout=self.timeout) as conn:
                cur = await conn.execute(sql, params)
                rows: list[tuple[Any, ...]] = await cur.fetchall()
                return rows
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise self.fail(exc, doing) from exc

    async def exec(self, sql: str, params: Sequence[Any], doing: str) -> int:
        """Run a statement that returns no rows; the number of rows it touched."""
        try:
            async with self.pool.connection(timeout=self.timeout) as conn:
                cur = await conn.execute(translate_sql(sql), params)
                return int(cur.rowcount)
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise self.fail(exc, doing) from exc


class PgAsyncGenerationStore:
    """Generations with the substrate's upserts, awaited on the pool."""

    def __init__(self, pg: AsyncPg, offload: Offload) -> None:
        self._pg, self._offload = pg, offload

    async def _one(self, sql: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        return await self._offload.native(self._pg.query(sql, params, doing))

    async def current(self, name: str) -> int:
        rows = await self._one(SqlGenerationStore._GET, (name,), "Generation.current")
        return int(rows[0][0]) if rows else 0

    async def bump(self, name: str) -> int:
        rows = await self._one(SqlGenerationStore._BUMP, (name,), "Generation.bump")
        return int(rows[0][0])

    async def advance_to(self, name: str, value: int) -> int:
        if await self._one(SqlGenerationStore._ADVANCE, (name, value), "Generation.advance_to"):
            return value
        raise NonMonotonicGeneration(name, await self.current(name), value)


class PgAsyncLogStore(PgAsyncFeed):
    """Writer logs on the pool with the synchronous driver's statements (module docs);
    the feed, conditional appends and erasure come from :class:`PgAsyncFeed`."""

    def __init__(self, pg: AsyncPg, sync: PgLogStore, doorbell: Doorbell, offload: Offload) -> None:
        self._pg, self._sync, self._bell, self._offload = pg, sync, doorbell, offload
        self._heads: dict[tuple[str, str], tuple[int, bytes | None]] = {}
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock]
        self._locks = weakref.WeakValueDictionary()

    # -- appends ---------------------------------------------------------------------------

    async def append(self, stream: str, writer: str, payload: bytes) -> Entry:
        checked = payload if type(payload) is bytes else check_payload(payload)
        if len(checked) > INLINE_BYTES:
            checked = check_payload(checked)
        entries = await self._offload.native(self._commit(stream, writer, [checked]), shield=True)
        return entries[0]

    async def append_many(self, stream: str, writer: str, payloads: list[bytes]) -> list[Entry]:
        checked = [check_payload(p, f"payload #{i}") for i, p in enumerate(payloads)]
        if not checked:
            return []
        return await self._offload.native(self._commit(stream, writer, checked), shield=True)

    async def _commit(
        self, stream: str, writer: str, payloads: list[bytes], *, ring: bool = True
    ) -> list[Entry]:
        """Commit ``payloads`` to the log; ``ring`` the local doorbell for them (the audit
        sink does not, as the synchronous ``LogAuditSink``)."""
        # One append at a time per log in this store, so its doorbell rings in seq order
        # (the database serializes them anyway).
        async with self._lock(stream, writer):
            return await self._commit_locked(stream, writer, payloads, ring)

    def _lock(self, stream: str, writer: str) -> asyncio.Lock:
        """The lock every append to the log through this store takes."""
        key = (stream, writer)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def _remember(self, key: tuple[str, str], seq: int, digest: bytes) -> None:
        if len(self._heads) >= SqlLogStore.MAX_CACHED_HEADS:
            self._heads.clear()
        self._heads[key] = (seq, digest)

    async def _commit_locked(
        self, stream: str, writer: str, payloads: list[bytes], ring: bool
    ) -> list[Entry]:
        key = (stream, writer)
        big = sum(map(len, payloads)) > INLINE_BYTES
        head = self._heads.get(key)
        for _ in range(MAX_TRIES):
            if head is None:
                head = await self._read_head(stream, writer)
            if big:
                rows = await self._offload.run(_chain, stream, writer, head, payloads)
            else:
                rows = _chain(stream, writer, head, payloads)
            try:
                written = await self._insert(rows)
            except Stale:
                head = None
                continue
            last = rows[-1]
            self._remember(key, last[2], last[5])
            entries = [Entry(*row, p) for row, p in zip(rows, written, strict=True)]
            if ring and self._bell._subs:  # rung here, in the commit's own task
                for e in entries:
                    self._bell.ring(event_of(e))
            return entries
        raise StoreError(
            f"{self._pg.sync.location}: appending to stream {stream!r}, writer {writer!r} "
            f"lost {MAX_TRIES} races in a row"
        )

    async def _read_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        rows = await self._pg.query(SqlLogStore.HEAD, (stream, writer), "reading the head")
        return (0, None) if not rows else (int(rows[0][0]), bytes(rows[0][1]))

    def _note(self, row: _Row, position: int) -> str:
        origin = self._pg.sync.origin
        if self._pg.sync.row_security:  # names would reach every tenant's LISTEN
            return anonymous(origin, position)
        return announcement(origin, row[0], row[1], row[2], row[5], position=position)

    def _note_head(self, row: _Row) -> str:
        if self._pg.sync.row_security:
            return anonymous_head(self._pg.sync.origin)
        return announcement_head(self._pg.sync.origin, row[0], row[1], row[2], row[5])

    async def _insert(self, rows: list[_Row]) -> list[int]:
        """Write ``rows`` (one statement, or a COPY in a transaction); their positions."""
        pg = self._pg
        channel = pg.sync.notify_channel
        try:
            async with pg.pool.connection(timeout=pg.timeout) as conn:
                if len(rows) == 1:
                    return [await self._insert_one(conn, rows[0], channel)]
                async with conn.transaction():
                    return await self._copy(conn, rows, channel)
        except Stale:
            raise
        except (
            psycopg.errors.UniqueViolation,
            psycopg.errors.SerializationFailure,
            psycopg.errors.DeadlockDetected,
        ) as exc:  # a race, as the synchronous driver's Conflict: try again
            raise Stale from exc
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise pg.fail(exc, "appending") from exc

    async def _insert_one(self, conn: Any, row: _Row, channel: str | None) -> int:
        stream, writer, seq, _, prev, _ = row
        params: tuple[Any, ...]
        if prev is None:  # genesis: the primary key alone decides
            sql, params = _INSERT, row
            if channel is not None:
                sql, params = _INSERT_FIRST_NOTIFY, (*row, channel, self._note_head(row))
        else:
            params = (*row, stream, writer, seq - 1, prev)
            sql = _INSERT_AFTER
            if channel is not None:
                sql, params = _INSERT_AFTER_NOTIFY, (*params, channel, self._note_head(row))
        cur = await conn.execute(sql, params)
        found = await cur.fetchone()
        if found is None:
            raise Stale
        return P.position_of(found[0], found[1])

    async def _copy(self, conn: Any, rows: list[_Row], channel: str | None) -> list[int]:
        stream, writer, seq, _, prev, _ = rows[0]
        async with conn.cursor() as cur:
            await cur.execute(P.TX_BASE)
            base = await cur.fetchone()
            tx, idx = base[0], int(base[1])
            if self._pg.sync.rls_applies:
                await cur.execute(_INSERT_ROWS, insert_rows_params(rows, idx + 1))
            else:
                async with cur.copy(_COPY) as out:
                    out.set_types(_COPY_TYPES)
                    for i, row in enumerate(rows, idx + 1):
                        await out.write_row((*row, i))
            last = rows[-1]
            head = (last[0], last[1], last[2], last[5])
            if prev is None:
                await cur.execute(_MOVE_HEAD_TO, head)
            else:
                await cur.execute(_MOVE_HEAD_AFTER, (*head, stream, writer, seq - 1, prev))
                found = await cur.fetchone()
                if not (found and found[0]):
                    raise Stale
            written = [P.position_of(tx, i) for i in range(idx + 1, idx + 1 + len(rows))]
            if channel is not None:
                notes = [self._note(row, p) for row, p in zip(rows, written, strict=True)]
                await cur.execute(_NOTIFY_MANY, (channel, notes))
            return written

    # -- reads -----------------------------------------------------------------------------

    async def head(self, stream: str, writer: str) -> Entry | None:
        rows = await self._offload.native(self._pg.rows(P.LAST, (stream, writer), "WriterLog.head"))
        return P.entry(stream, writer, rows[0]) if rows else None

    async def page(self, stream: str, writer: str, after: int, limit: int) -> list[Entry]:
        check_int(after, "after", 0)
        params = (stream, writer, after, limit)
        rows = await self._offload.native(self._pg.rows(P.PAGE, params, "WriterLog.entries"))
        return [P.entry(stream, writer, row) for row in rows]

    def _verify_now(self, stream: str, writer: str) -> int:
        return WriterLog(self._sync, Doorbell(), stream, writer).verify()

    async def verify(self, stream: str, writer: str) -> int:
        # Hashing a whole chain: on the store's threads, with the synchronous driver.
        return await self._offload.run(self._verify_now, stream, writer)

    async def logs(self) -> list[tuple[str, str]]:
        async def walk() -> list[tuple[str, str]]:
            found: list[tuple[str, str]] = []
            stream = writer = ""
            while True:
                rows = await self._pg.query(
                    SqlLogStore.NEXT_LOG, (stream, writer, stream, writer), "logs"
                )
                if not rows:
                    return found
                stream, writer = str(rows[0][0]), str(rows[0][1])
                found.append((stream, writer))

        return await self._offload.native(walk())


async def open_native(stores: DriverStores, kit: NativeKit) -> AsyncDriverStores:
    """Every capability on an ``AsyncConnectionPool`` to the synchronous driver's server
    and schema (the same settings); on an application's own connection, all bridged."""
    logs = stores.logs
    backend = _backend_of(stores)
    if backend is None or not isinstance(backend.source, PoolSource):
        return AsyncDriverStores()  # on an application's own connection: bridged
    sync_pool = backend.source.pool
    pool: psycopg_pool.AsyncConnectionPool[Any] = psycopg_pool.AsyncConnectionPool(
        sync_pool.conninfo,
        kwargs={"autocommit": True},  # as the synchronous pool's connections
        min_size=sync_pool.min_size,
        max_size=sync_pool.max_size,
        timeout=backend.source._timeout,
        name=f"{sync_pool.name}:aio",
        open=False,
    )
    pg = AsyncPg(pool, backend)
    try:
        await pool.open(wait=True, timeout=backend.source._timeout)
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        await pool.close()
        raise pg.fail(exc, "opening the async pool") from exc
    try:
        listener = await _listen(backend, kit, pg)
    except BaseException:
        await pool.close()
        raise

    async def aclose() -> None:
        try:
            if listener is not None:
                await listener.aclose()
            await kit.offload.drain()
        finally:
            await pool.close()

    native = AsyncDriverStores(aclose=aclose)
    if stores.generations is not None:
        native.generations = PgAsyncGenerationStore(pg, kit.offload)
    if isinstance(logs, PgLogStore):
        native.logs = PgAsyncLogStore(pg, logs, kit.doorbell, kit.offload)
    _governance(native, stores, pg, kit)
    return native


async def _listen(backend: PostgresBackend, kit: NativeKit, pg: AsyncPg) -> AsyncListener | None:
    """With ``notify = true``: the synchronous driver's LISTEN thread handed over to a task
    on the loop (:mod:`agentstore_postgres.aio_notify`), listening before this returns."""
    sync = backend.listener
    if sync is None or backend.notify_channel is None:
        return None
    listener = AsyncListener(
        sync._conninfo,
        channel=backend.notify_channel,
        origin=lambda: backend.origin,
        doorbell=kit.doorbell,
        where=sync._where,
        schema=sync._schema,
        names=sync._names,
    )
    await kit.offload.run(sync.close)  # the thread stops first: each commit rings once
    try:
        await listener.start()
    except psycopg.Error as exc:
        await listener.aclose()
        raise pg.fail(exc, "listening for commits") from exc
    return listener


def _backend_of(stores: DriverStores) -> PostgresBackend | None:
    """The backend the driver's stores share (all are built on one)."""
    audit = stores.audit
    found = [
        stores.logs._pg if isinstance(stores.logs, PgLogStore) else None,
        audit._logs._pg
        if isinstance(audit, LogAuditSink) and isinstance(audit._logs, PgLogStore)
        else None,
        *(
            getattr(store, "_backend", None)
            for store in (
                stores.generations,
                stores.policies,
                stores.sessions,
                stores.credentials,
                stores.rate_limits,
                stores.lifecycle,
            )
        ),
    ]
    return next((b for b in found if isinstance(b, PostgresBackend)), None)


def _governance(
    native: AsyncDriverStores, stores: DriverStores, pg: AsyncPg, kit: NativeKit
) -> None:
    """The six governance stores on the same pool (:mod:`.aio_governance`)."""
    from agentstore_postgres import aio_governance as gov

    off = kit.offload
    if isinstance(stores.policies, SqlPolicyStore):
        native.policies = gov.PgAsyncPolicyStore(pg, off)
    audit = stores.audit
    if isinstance(audit, LogAuditSink) and isinstance(audit._logs, PgLogStore):
        logs = native.logs if audit._logs is stores.logs else None
        if not isinstance(logs, PgAsyncLogStore):
            logs = PgAsyncLogStore(pg, audit._logs, kit.doorbell, off)
        native.audit = gov.PgAsyncAuditSink(logs, audit, off)
        if isinstance(native.logs, PgAsyncLogStore):
            native.logs.audit = native.audit  # where redactions are recorded
    if isinstance(stores.sessions, SqlSessionStore):
        native.sessions = gov.PgAsyncSessionStore(pg, off, stores.sessions)
    if isinstance(stores.credentials, SqlCredentialStore):
        native.credentials = gov.PgAsyncCredentialStore(pg, off, stores.credentials)
    if isinstance(stores.rate_limits, SqlRateLimitCounter):
        native.rate_limits = gov.PgAsyncRateLimitCounter(pg, off, stores.rate_limits)
    if isinstance(stores.lifecycle, SqlLifecycleStore):
        native.lifecycle = gov.PgAsyncLifecycleStore(pg, off, stores.lifecycle.clock)


__all__ = ["PgAsyncGenerationStore", "PgAsyncLogStore", "open_native"]
