"""The commit feed, conditional appends, stream reads and erasure of the postgres driver,
native to ``agentstore.aio`` (mixed into :class:`agentstore_postgres.aio.PgAsyncLogStore`).

The statements are the synchronous driver's (:mod:`agentstore_postgres.positions`,
:mod:`agentstore_postgres.logs`), awaited on the async pool, with the same guarantees:
the feed reads below the snapshot's xmin (no late gaps), a conditional append is the
guarded ``INSERT`` or ``COPY`` after the expected head (exactly one of several racing
wins; the others raise HeadMoved having written nothing), and a redaction is one
``UPDATE`` followed by a ``VACUUM`` of the table, then the record on the audit chain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

import psycopg
import psycopg_pool
from agentstore.errors import HeadMoved, NotFound, StoreError
from agentstore.handles import event_of, redaction_record
from agentstore.sql.logs import _chain
from agentstore.types import CommitEvent, Entry

from agentstore_postgres import positions as P

if TYPE_CHECKING:
    from agentstore.aio._threads import Offload
    from agentstore.doorbell import Doorbell

    from agentstore_postgres.aio import AsyncPg
    from agentstore_postgres.aio_governance import PgAsyncAuditSink

log = logging.getLogger("agentstore.postgres")

MAX_TRIES: Final = 3
"""Tries of one conditional append whose remembered head turned out stale."""


class Stale(Exception):
    """The head an append built on is not the log's head: re-read it and try again."""


_Row = tuple[str, str, int, bytes, bytes | None, bytes]


class PgAsyncFeed:
    """The :class:`agentstore.aio.feed.AsyncFeedStore` methods, natively."""

    _pg: AsyncPg
    _bell: Doorbell
    _offload: Offload
    _heads: dict[tuple[str, str], tuple[int, bytes | None]]
    audit: PgAsyncAuditSink | None = None
    """Where :meth:`redact` records redactions (set when the store has the audit chain)."""

    def _lock(self, stream: str, writer: str) -> asyncio.Lock:
        raise NotImplementedError

    async def _read_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        raise NotImplementedError

    async def _insert(self, rows: list[_Row]) -> list[int]:
        raise NotImplementedError

    def _remember(self, key: tuple[str, str], seq: int, digest: bytes) -> None:
        raise NotImplementedError

    # -- conditional appends ---------------------------------------------------------------

    async def append_if(
        self, stream: str, writer: str, payloads: list[bytes], expect_head: int
    ) -> list[Entry]:
        work = self._append_if(stream, writer, payloads, expect_head)
        return await self._offload.native(work, shield=True)

    async def _append_if(
        self, stream: str, writer: str, payloads: list[bytes], expect_head: int
    ) -> list[Entry]:
        key = (stream, writer)
        async with self._lock(stream, writer):
            head = self._heads.get(key)
            for _ in range(MAX_TRIES):
                if head is None or head[0] != expect_head or not payloads:
                    head = await self._read_head(stream, writer)  # the committed head
                    if head[0] != expect_head:
                        raise HeadMoved(stream, writer, expect_head, head[0])
                    if not payloads:
                        return []
                rows = _chain(stream, writer, head, payloads)
                try:
                    written = await self._insert(rows)
                except Stale:
                    # Lost the race (the next seq is taken, by a committed entry), or the
                    # remembered head was stale: the head read now says which.
                    self._heads.pop(key, None)
                    head = None
                    continue
                last = rows[-1]
                self._remember(key, last[2], last[5])
                entries = [Entry(*row, p) for row, p in zip(rows, written, strict=True)]
                if self._bell._subs:
                    for e in entries:
                        self._bell.ring(event_of(e))
                return entries
        raise StoreError(
            f"{self._pg.sync.location}: appending to stream {stream!r}, writer {writer!r} "
            f"after seq {expect_head}: the recorded head is there but its entry is not"
        )

    # -- reads in position order -----------------------------------------------------------

    async def feed_page(self, after: int, limit: int) -> list[CommitEvent]:
        return await self._offload.native(self._feed_page(after, limit))

    async def _feed_page(self, after: int, limit: int) -> list[CommitEvent]:
        page: list[CommitEvent] = []
        for settled in (False, True):
            params = (*P.split(after), limit - len(page))
            page += map(P.event, await self._pg.rows(P.FEED, params, "Store.feed"))
            if len(page) == limit or settled or not await self._settle():
                break
            if page:
                after = page[-1].position
        return page

    async def position(self) -> int:
        return await self._offload.native(self._position())

    async def _position(self) -> int:
        await self._settle()
        rows = await self._pg.rows(P.POSITION, (), "Store.position")
        return P.position_of(rows[0][0], rows[0][1]) if rows else 0

    async def stream_page(self, stream: str, after: int, limit: int) -> list[Entry]:
        return await self._offload.native(self._stream_page(stream, after, limit))

    async def _stream_page(self, stream: str, after: int, limit: int) -> list[Entry]:
        page: list[Entry] = []
        for settled in (False, True):
            params = (stream, *P.split(after), limit - len(page))
            rows = await self._pg.rows(P.STREAM_PAGE, params, "StreamView.entries")
            page += (P.entry(stream, row[0], row[1:]) for row in rows)
            if len(page) == limit or settled or not await self._settle():
                break
            if page:
                after = page[-1].position
        return page

    async def _settle(self) -> bool:
        """As the synchronous driver's ``PgLogStore._settle``: wait (at most
        :data:`~agentstore_postgres.positions.SETTLE_SECONDS`) until no committed entry
        found now is held back behind an older transaction in progress; True when there
        was one to wait for."""
        held = await self._pg.rows(P.HELD_BACK, (), "reading the feed")
        if not held:
            return False
        target = held[0][0]
        deadline = time.monotonic() + P.SETTLE_SECONDS
        pause = 0.001
        while not (await self._pg.rows(P.PASSED, (target,), "reading the feed"))[0][0]:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        return True

    # -- erasure ---------------------------------------------------------------------------

    async def redact(self, stream: str, writer: str, seq: int, reason: str) -> Entry:
        work = self._redact(stream, writer, seq, reason)
        return await self._offload.native(work, shield=True)

    async def _redact(self, stream: str, writer: str, seq: int, reason: str) -> Entry:
        params = (stream, writer, seq, stream, writer, seq)
        rows = await self._pg.rows(P.REDACT, params, "WriterLog.redact")
        if not rows:
            raise NotFound(f"log ({stream!r}, {writer!r}) has no entry at seq {seq}")
        changed, *row = rows[0]
        entry = P.entry(stream, writer, row)
        if not changed:
            return entry  # already redacted: nothing changed, nothing recorded
        await self._vacuum()
        if self.audit is not None:
            await self.audit._emit(redaction_record(stream, writer, seq, reason))
        return entry

    async def _vacuum(self) -> None:
        """``VACUUM agentstore_log`` on a pooled (autocommit) connection; a failure is
        logged, not raised (the redaction has committed)."""
        pg = self._pg
        try:
            async with pg.pool.connection(timeout=pg.timeout) as conn:
                await conn.execute(P.VACUUM)
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            log.warning(
                "VACUUM after a redaction on %s failed: %s", pg.sync.location, pg.fail(exc, "")
            )


__all__ = ["MAX_TRIES", "PgAsyncFeed", "Stale"]
