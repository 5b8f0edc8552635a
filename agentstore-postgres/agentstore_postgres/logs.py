"""The postgres driver's writer logs: the core's SQL log store with PostgreSQL's statements.

An append is one guarded ``INSERT`` (one round trip) that also moves the log's recorded
head and returns the entry's position (:mod:`agentstore_postgres.positions`); a batch is a
binary ``COPY`` in one transaction. With announcements on, the same statement or
transaction NOTIFYs each entry with its position, so an entry is announced exactly when it
commits. Conditional appends (``expect_head``) use the same statements: the primary key
and the guard on the previous entry decide, so of several racing on one head exactly one
wins. A redaction is one ``UPDATE`` (then a ``VACUUM`` of the table, see :meth:`_redact`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, cast

import psycopg
from agentstore.chain import ChainRow
from agentstore.errors import ChainBroken, Conflict, HeadMoved, NotFound, StoreError
from agentstore.sql.backend import Backend
from agentstore.sql.logs import PAGE_SIZE, SqlLogStore, _chain, _entries
from agentstore.sql.positions import prefix_range
from agentstore.types import CommitEvent, Entry

from agentstore_postgres import positions as P
from agentstore_postgres.backend import OwnedConnectionSource, PoolSource, PostgresBackend
from agentstore_postgres.notify import (
    announcement,
    announcement_head,
    anonymous,
    anonymous_head,
)

log = logging.getLogger("agentstore.postgres")

_Row = tuple[str, str, int, bytes, bytes | None, bytes]
"""An entry as the substrate writes it, in :class:`~agentstore.types.Entry` field order."""

_COLUMNS = "(stream, writer, seq, payload, prev_hash, content_hash, idx)"
_PREV_EXISTS = (
    "EXISTS (SELECT 1 FROM agentstore_log WHERE stream = %s AND writer = %s AND seq = %s"
    " AND content_hash = %s)"
)
# Every statement that writes an entry moves the log's recorded head in the same statement
# (a data-modifying CTE always runs), so the head commits exactly with its entry.
_RETURNING = "RETURNING stream, writer, seq, content_hash, tx, idx"
_MOVE_HEAD = (
    ", head AS (INSERT INTO agentstore_log_heads AS h (stream, writer, seq, content_hash) "
    "SELECT stream, writer, seq, content_hash FROM ins ON CONFLICT (stream, writer) "
    "DO UPDATE SET seq = excluded.seq, content_hash = excluded.content_hash "
    "WHERE excluded.seq > h.seq)"
)
_VALUES = f"%s, %s, %s, %s, %s, %s, {P.NEXT_IDX}"
_INSERT_FIRST_ROW = f"INSERT INTO agentstore_log {_COLUMNS} VALUES ({_VALUES})"
# The row goes in only if the entry it chains to is really there: a cached head that a
# rolled-back transaction left behind (or a log changed behind our back) fails the guard
# instead of leaving a gap, and the append re-reads the head.
_INSERT_AFTER_ROW = f"INSERT INTO agentstore_log {_COLUMNS} SELECT {_VALUES} WHERE {_PREV_EXISTS}"
_POSITION = "tx::text, idx"
# The announcement's JSON is closed in SQL, with the position the insert got.
_NOTIFY = "pg_notify(%s, %s || (tx::text::numeric * 4294967296 + idx)::text || '}')"  # 2**32
_INSERT = f"WITH ins AS ({_INSERT_FIRST_ROW} {_RETURNING}){_MOVE_HEAD} SELECT {_POSITION} FROM ins"
_INSERT_AFTER = (
    f"WITH ins AS ({_INSERT_AFTER_ROW} {_RETURNING}){_MOVE_HEAD} SELECT {_POSITION} FROM ins"
)
_INSERT_AFTER_NOTIFY = (
    f"WITH ins AS ({_INSERT_AFTER_ROW} {_RETURNING}){_MOVE_HEAD} "
    f"SELECT {_POSITION}, {_NOTIFY} FROM ins"
)
_INSERT_FIRST_NOTIFY = (
    f"WITH ins AS ({_INSERT_FIRST_ROW} {_RETURNING}){_MOVE_HEAD} "
    f"SELECT {_POSITION}, {_NOTIFY} FROM ins"
)
_MOVE_HEAD_TO = (
    "INSERT INTO agentstore_log_heads AS h (stream, writer, seq, content_hash) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (stream, writer) DO UPDATE SET seq = excluded.seq, "
    "content_hash = excluded.content_hash WHERE excluded.seq > h.seq"
)
# After a batch's COPY: move the head and check, in the same round trip, that the entry the
# batch chains to is there (when it is not, the transaction is rolled back).
_MOVE_HEAD_AFTER = f"WITH head AS ({_MOVE_HEAD_TO}) SELECT {_PREV_EXISTS}"
_COPY = f"COPY agentstore_log {_COLUMNS} FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "text", "int8", "bytea", "bytea", "bytea", "int4"]
# A batch where row-level security applies to the role (PostgreSQL refuses COPY FROM
# there): one INSERT of the batch's columns as arrays.
_INSERT_ROWS = (
    f"INSERT INTO agentstore_log {_COLUMNS} SELECT * FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in _COPY_TYPES)
    + ")"
)


def insert_rows_params(rows: Sequence[_Row], first_idx: int) -> list[list[Any]]:
    """The arrays :data:`_INSERT_ROWS` binds: one per column, ``idx`` from ``first_idx``."""
    columns: list[list[Any]] = [[] for _ in _COPY_TYPES]
    for i, row in enumerate(rows, first_idx):
        for column, value in zip(columns, (*row, i), strict=True):
            column.append(value)
    return columns


_NOTIFY_MANY = "SELECT count(pg_notify(%s, n)) FROM unnest(%s::text[]) AS n"


def stale(stream: str, writer: str, seq: int) -> Conflict:
    return Conflict(f"{stream!r}/{writer!r} seq {seq - 1} is not the head this store knew")


_new_tuple = tuple.__new__


def _entry(row: _Row, position: int) -> Entry:
    entry: Entry = _new_tuple(Entry, (*row, position, False))  # faster than Entry(...)
    return entry


class PgLogStore(SqlLogStore):
    """The core's log store with PostgreSQL's statements, positions and feed.

    Entries carry positions (:mod:`agentstore_postgres.positions`): ``_feed``,
    ``_position`` and ``_stream_entries`` read in position order and never deliver a
    position below one already delivered.
    """

    def __init__(self, backend: Backend, *, page_size: int = PAGE_SIZE) -> None:
        super().__init__(backend, page_size=page_size)
        if not isinstance(backend, PostgresBackend):
            raise TypeError("PgLogStore runs on a PostgresBackend")
        self._pg = backend

    # -- appends ---------------------------------------------------------------------------

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        key = (stream, writer)
        head = self._heads.get(key)
        if head is not None:
            row = _chain(stream, writer, head, (payload,))[0]
            try:
                position = self._write_one(row)
            except Conflict:
                pass  # another connection appended: fall through to the locked path
            else:
                self._heads[key] = (row[2], row[5])
                return _entry(row, position)
        return self._commit(stream, writer, (payload,), None)[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        return self._commit(stream, writer, payloads, self._heads.get((stream, writer)))

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        """Append only onto the head ``expect_head``: the primary key on the next seq and
        the guard on the entry at ``expect_head`` decide, so exactly one of several racing
        stores wins and the others raise :class:`HeadMoved` having written nothing."""
        key = (stream, writer)
        head = self._heads.get(key)
        for _ in range(3):
            if head is None or head[0] != expect_head or not payloads:
                head = self._read_head(stream, writer)  # the committed head
                if head[0] != expect_head:
                    raise HeadMoved(stream, writer, expect_head, head[0])
                if not payloads:
                    return []
            rows = _chain(stream, writer, head, payloads)
            try:
                written = self._write(rows)
            except Conflict:
                # Lost the race (the next seq is taken, by a committed entry), or the
                # remembered head was stale: the head read now says which.
                self._heads.pop(key, None)
                head = None
                continue
            last = rows[-1]
            self._remember(stream, writer, last[2], last[5])
            return _entries(rows, written)
        self._verify(stream, writer)
        raise StoreError(
            f"{self._backend.location}: appending to stream {stream!r}, writer {writer!r} "
            f"after seq {expect_head}: the recorded head is there but its entry is not"
        )

    def _write(self, rows: Sequence[_Row]) -> list[int]:
        return [self._write_one(rows[0])] if len(rows) == 1 else self._write_many(rows)

    # The core's names for the two writing hooks, kept for code that calls them.
    def _insert_one(self, row: _Row) -> None:
        self._write_one(row)

    def _insert_many(self, rows: Sequence[_Row]) -> None:
        self._write_many(rows)

    def _write_one(self, row: _Row) -> int:
        """Write one chained row and move the head to it, in one statement; its position."""
        pg = self._pg
        channel = pg.notify_channel
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
        found = pg.run(lambda cur: cur.execute(sql, params).fetchone(), "appending")
        if found is None:
            raise stale(stream, writer, seq)
        return P.position_of(found[0], found[1])

    def _write_many(self, rows: Sequence[_Row]) -> list[int]:
        return self._pg.run(lambda cur: self._copy(cur, rows), "appending", atomic=True)

    def _copy(self, cur: psycopg.Cursor[Any], rows: Sequence[_Row]) -> list[int]:
        stream, writer, seq, _, prev, _ = rows[0]
        base = cur.execute(P.TX_BASE).fetchone()
        assert base is not None
        tx, idx = base[0], int(base[1])
        if self._pg.rls_applies:
            cur.execute(_INSERT_ROWS, insert_rows_params(rows, idx + 1))
        else:
            with cur.copy(_COPY) as out:
                out.set_types(_COPY_TYPES)
                for i, row in enumerate(rows, idx + 1):
                    out.write_row((*row, i))
        last = rows[-1]
        head = (last[0], last[1], last[2], last[5])
        if prev is None:  # genesis: the primary key alone decides
            cur.execute(_MOVE_HEAD_TO, head)
        else:
            found = cur.execute(_MOVE_HEAD_AFTER, (*head, stream, writer, seq - 1, prev)).fetchone()
            if not (found and found[0]):
                raise stale(stream, writer, seq)
        written = [P.position_of(tx, i) for i in range(idx + 1, idx + 1 + len(rows))]
        channel = self._pg.notify_channel
        if channel is not None:
            notes = [self._note(row, p) for row, p in zip(rows, written, strict=True)]
            cur.execute(_NOTIFY_MANY, (channel, notes))
        return written

    def _note(self, row: _Row, position: int) -> str:
        if self._pg.row_security:  # names would reach every tenant's LISTEN
            return anonymous(self._pg.origin, position)
        return announcement(self._pg.origin, row[0], row[1], row[2], row[5], position=position)

    def _note_head(self, row: _Row) -> str:
        if self._pg.row_security:
            return anonymous_head(self._pg.origin)
        return announcement_head(self._pg.origin, row[0], row[1], row[2], row[5])

    # -- one log's reads -------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any], doing: str) -> list[Any]:
        """All rows of one statement written with psycopg's ``%s`` placeholders."""
        return self._pg.run(lambda cur: cur.execute(sql, params).fetchall(), doing)

    def _head(self, stream: str, writer: str) -> Entry | None:
        rows = self._rows(P.LAST, (stream, writer), "reading the head")
        return P.entry(stream, writer, rows[0]) if rows else None

    def _pages(self, stream: str, writer: str, after: int | None) -> Iterator[list[Any]]:
        size = self._page_size
        while True:
            if after is None:
                params: tuple[Any, ...] = (stream, writer, size)
                sql = P.FIRST_PAGE
            else:
                params, sql = (stream, writer, after, size), P.PAGE
            rows = self._rows(sql, params, "reading entries")
            if rows:
                yield rows
            if len(rows) < size:
                return
            after = cast(int, rows[-1][0])

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        for rows in self._pages(stream, writer, after):
            for row in rows:
                yield P.entry(stream, writer, row)

    def _chain_rows(self, stream: str, writer: str, after: int | None = None) -> Iterator[ChainRow]:
        """The stored rows with ``seq > after`` in seq order, each checked for its
        columns' types; a redacted row's payload is None."""
        expected = 1 if after is None else after + 1
        for rows in self._pages(stream, writer, after):
            for seq, payload, prev, digest, _, _, redacted in rows:
                if (
                    type(seq) is not int
                    or type(payload) is not bytes
                    or type(digest) is not bytes
                    or (prev is not None and type(prev) is not bytes)
                ):
                    raise ChainBroken(
                        stream, writer, expected, "a stored column has the wrong type"
                    )
                expected = seq + 1
                yield seq, None if redacted else payload, prev, digest

    # -- the store in position order -------------------------------------------------------

    def _feed(self, after: int, limit: int | None) -> Iterator[CommitEvent]:
        return self._feed_rows(P.FEED, (), after, limit)

    def _feed_prefixed(self, prefix: str, after: int, limit: int | None) -> Iterator[CommitEvent]:
        return self._feed_rows(P.FEED_PREFIXED, prefix_range(prefix), after, limit)

    def _feed_rows(
        self, sql: str, streams: tuple[str, ...], after: int, limit: int | None
    ) -> Iterator[CommitEvent]:
        left = limit
        size = self._page_size
        settled = False
        while left is None or left > 0:
            want = size if left is None else min(size, left)
            rows = self._rows(sql, (*P.split(after), *streams, want), "reading the feed")
            for row in rows:
                yield P.event(row)
            if rows:
                after = P.position_of(rows[-1][0], rows[-1][1])
                if left is not None:
                    left -= len(rows)
            if len(rows) < want:
                # The end of what may be delivered: once, wait for what is held back.
                if settled or not self._settle():
                    return
                settled = True

    def _position(self) -> int:
        self._settle()
        rows = self._rows(P.POSITION, (), "reading the position")
        return P.position_of(rows[0][0], rows[0][1]) if rows else 0

    def _stream_entries(self, stream: str, after: int) -> Iterator[Entry]:
        size = self._page_size
        settled = False
        while True:
            rows = self._rows(P.STREAM_PAGE, (stream, *P.split(after), size), "reading a stream")
            for row in rows:
                yield P.entry(stream, row[0], row[1:])
            if rows:
                after = P.position_of(rows[-1][5], rows[-1][6])
            if len(rows) < size:
                if settled or not self._settle():
                    return
                settled = True

    def _settle(self) -> bool:
        """Wait (at most :data:`~agentstore_postgres.positions.SETTLE_SECONDS`) until no
        committed entry found now is held back behind an older transaction in progress;
        True when there was one to wait for (read again), False when nothing was held."""
        if not self._may_wait():
            return False
        held = self._rows(P.HELD_BACK, (), "reading the feed")
        if not held:
            return False
        target = held[0][0]
        deadline = time.monotonic() + P.SETTLE_SECONDS
        pause = 0.001
        while not self._rows(P.PASSED, (target,), "reading the feed")[0][0]:
            if time.monotonic() >= deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return True

    def _may_wait(self) -> bool:
        """Whether a read's next statement gets a new snapshot (it does not inside an
        application's transaction)."""
        pg = self._pg
        if pg._tx_conn() is not None:
            return False
        source = pg.source
        if isinstance(source, OwnedConnectionSource):
            idle = psycopg.pq.TransactionStatus.IDLE
            return source.conn.info.transaction_status == idle
        return True

    # -- erasure ---------------------------------------------------------------------------

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        """Empty the entry's payload and mark it redacted, in one ``UPDATE``; then, on the
        store's own pool, ``VACUUM agentstore_log`` so the old row version's bytes leave
        the table's pages (see the driver's README for what remains elsewhere)."""
        params = (stream, writer, seq, stream, writer, seq)
        rows = self._rows(P.REDACT, params, "redacting")
        if not rows:
            raise NotFound(f"log ({stream!r}, {writer!r}) has no entry at seq {seq}")
        changed, *row = rows[0]
        if changed:
            self._vacuum()
        return P.entry(stream, writer, row)

    def _vacuum(self) -> None:
        """VACUUM the log table on an autocommit pooled connection; a failure is logged,
        not raised (the redaction has committed)."""
        pg = self._pg
        if not isinstance(pg.source, PoolSource) or pg._tx_conn() is not None:
            return  # an application's connection, or inside a transaction: VACUUM cannot
        try:
            pg.run(lambda cur: cur.execute(P.VACUUM), "vacuuming after a redaction")
        except StoreError as exc:
            log.warning("VACUUM after a redaction on %s failed: %s", pg.location, exc)


__all__ = ["PgLogStore"]
