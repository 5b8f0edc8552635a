"""Writer logs, written once over a :class:`~agentstore.sql.backend.Backend` (generations,
in :mod:`agentstore.sql.generations`, are re-exported here).

The statements are portable between SQLite (3.35 and later) and PostgreSQL: ``?``
placeholders, ``INSERT ... ON CONFLICT ... DO UPDATE`` and ``RETURNING``. Atomicity comes
from single statements or from the primary keys, never from a lock held in this process,
so the guarantees hold across processes that share the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final, cast

from blake3 import blake3

from agentstore.capabilities import WriterLogStore
from agentstore.chain import ChainRow, Verified, verify_to_head
from agentstore.errors import (
    BackendUnavailable,
    ChainBroken,
    Conflict,
    HeadMoved,
    NotFound,
    StoreError,
)
from agentstore.sql.backend import Backend, Row
from agentstore.sql.generations import SqlGenerationStore
from agentstore.sql.positions import feed_pages, prefix_range, stream_entries
from agentstore.sql.schema import layout_of
from agentstore.types import CommitEvent, Entry

PAGE_SIZE: Final = 2000
"""Rows read per query when streaming entries: memory stays bounded by one page."""

_new_tuple = tuple.__new__


# -- writer logs ---------------------------------------------------------------------------


class SqlLogStore(WriterLogStore):
    """Chained logs in ``agentstore_log``, one row per entry, keyed ``(stream, writer, seq)``.

    The database records each log's head in ``agentstore_log_heads``, moved forward in the
    same statement or transaction as every append (see :mod:`agentstore.sql.schema`).
    The head of each log this store has written or read is also kept in memory, so an
    append is one ``INSERT`` of the next row. When another connection has appended
    meanwhile the primary key refuses that row; the append then re-reads the recorded
    head inside a write transaction and tries again, as often as it takes, so a race
    never surfaces as an error.

    Appends build on the recorded head, never on the last stored row: entries deleted
    behind the store's back are not silently replaced. Here a later append lands after
    the recorded head and :meth:`verify <agentstore.capabilities.WriterLog.verify>`
    reports the missing entries; a driver whose insert is guarded by the previous entry
    (``agentstore-postgres``) refuses the append with :class:`ChainBroken` instead.

    Positions (schema version 4): every entry row has an integer ``position`` and a
    ``redacted`` mark (0 or 1). The portable statements here give a new entry the largest
    stored position plus one, read inside the write transaction, so positions are dense
    and commit in order wherever the transaction holds the database's write lock
    (SQLite's ``BEGIN IMMEDIATE``). A driver whose transactions run side by side
    (PostgreSQL) overrides the writes and the position-ordered reads (``_feed``,
    ``_position``, ``_stream_entries``) with its own scheme. The statements are class
    attributes and every write goes through :meth:`_insert_one` and :meth:`_insert_many`,
    so a driver substitutes its dialect's statements without re-implementing the logic.
    """

    INSERT: Final = (
        "INSERT INTO {table} (stream, writer, seq, payload, prev_hash, content_hash, "
        "position) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    HEAD: Final = (
        "SELECT seq, content_hash FROM agentstore_log_heads WHERE stream = ? AND writer = ?"
    )
    # An entry's columns after stream and writer: Entry's field order (redacted as 0 or 1).
    LAST: Final = (
        "SELECT seq, payload, prev_hash, content_hash, position, redacted FROM agentstore_log "
        "WHERE stream = ? AND writer = ? ORDER BY seq DESC LIMIT 1"
    )
    PAGE: Final = (
        "SELECT seq, payload, prev_hash, content_hash, position, redacted FROM agentstore_log "
        "WHERE stream = ? AND writer = ? AND seq > ? ORDER BY seq LIMIT ?"
    )
    FIRST_PAGE: Final = (
        "SELECT seq, payload, prev_hash, content_hash, position, redacted FROM agentstore_log "
        "WHERE stream = ? AND writer = ? ORDER BY seq LIMIT ?"
    )
    ENTRY_AT: Final = (
        "SELECT seq, payload, prev_hash, content_hash, position, redacted FROM agentstore_log "
        "WHERE stream = ? AND writer = ? AND seq = ?"
    )
    # The next log after a key, in the entries or in the recorded heads: a log whose every
    # entry was deleted is still listed, and so still verified.
    NEXT_LOG: Final = (
        "SELECT stream, writer FROM ("
        "SELECT stream, writer FROM agentstore_log WHERE (stream, writer) > (?, ?) "
        "ORDER BY stream, writer LIMIT 1) AS e UNION "
        "SELECT stream, writer FROM ("
        "SELECT stream, writer FROM agentstore_log_heads WHERE (stream, writer) > (?, ?) "
        "ORDER BY stream, writer LIMIT 1) AS h "
        "ORDER BY stream, writer LIMIT 1"
    )
    # -- positions (schema version 4) --
    MAX_POSITION: str = "SELECT max(position) FROM agentstore_log"
    # CommitEvent's field order, position last.
    FEED_PAGE: str = (
        "SELECT stream, writer, seq, content_hash, position FROM agentstore_log "
        "WHERE position > ? ORDER BY position LIMIT ?"
    )
    FEED_PREFIX_PAGE: str = (
        "SELECT stream, writer, seq, content_hash, position FROM agentstore_log "
        "WHERE position > ? AND stream >= ? AND stream < ? ORDER BY position LIMIT ?"
    )
    POSITION_AT: str = (
        "SELECT position FROM agentstore_log WHERE stream = ? AND writer = ? AND seq = ?"
    )
    NEXT_WRITER: str = (
        "SELECT writer FROM agentstore_log WHERE stream = ? AND writer > ? ORDER BY writer LIMIT 1"
    )
    REDACT: str = (
        "UPDATE {table} SET payload = ?, redacted = 1 "
        "WHERE stream = ? AND writer = ? AND seq = ? AND redacted = 0"
    )
    MAX_CACHED_HEADS: Final = 4096

    def __init__(self, backend: Backend, *, page_size: int = PAGE_SIZE) -> None:
        self._backend = backend
        self._exec = backend.exec
        self._page_size = page_size
        self._heads: dict[tuple[str, str], tuple[int, bytes | None]] = {}
        # Where entries are written and how a head moves depend on the backend's layout
        # (see agentstore.sql.schema.SchemaLayout); reads go through the names all share.
        layout = layout_of(backend)
        self._rows_table = layout.log_table
        self._insert_sql = self.INSERT.format(table=layout.log_table)
        self._redact_sql = self.REDACT.format(table=layout.log_table)
        self._move_head_sql = layout.move_head

    # -- appends ---------------------------------------------------------------------------

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        key = (stream, writer)
        head = self._heads.get(key)
        if head is not None:
            seq, prev = head
            seq += 1
            digest = blake3(payload if prev is None else prev + payload).digest()
            # A plain tuple binds faster than a NamedTuple in sqlite3.
            row = (stream, writer, seq, payload, prev, digest)
            try:
                position = self._insert_one(row)
            except Conflict:
                pass  # another connection appended: fall through to the locked path
            else:
                self._heads[key] = (seq, digest)
                entry: Entry = _new_tuple(Entry, (*row, position or 0, False))
                return entry
        return self._commit(stream, writer, (payload,), None)[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        return self._commit(stream, writer, payloads, self._heads.get((stream, writer)))

    def _commit(
        self,
        stream: str,
        writer: str,
        payloads: Sequence[bytes],
        head: tuple[int, bytes | None] | None,
    ) -> list[Entry]:
        """Insert ``payloads`` after ``head`` (read inside the transaction when None)."""
        backend = self._backend
        while True:
            tried = 0
            remembered = head is not None
            try:
                with backend.transaction():
                    if head is None:
                        head = self._read_head(stream, writer)
                    tried = head[0] + 1
                    rows = _chain(stream, writer, head, payloads)
                    positions = self._write(rows)
            except Conflict as exc:
                # Lost a race, or built on a remembered head that is stale: try again on the
                # head read inside the next transaction. With a head read in this one, a
                # conflict that did not come from another append (the head did not reach
                # the seqs tried) is not a race, and retrying would never end.
                head = None
                if not remembered and self._read_head(stream, writer)[0] < tried:
                    # Not a race: the log around the recorded head is not what was
                    # appended. Name where, as verify does.
                    self._verify(stream, writer)
                    raise StoreError(
                        f"{backend.location}: appending to stream {stream!r}, writer "
                        f"{writer!r} at seq {tried} conflicts with something other than a "
                        "newer entry (an extra unique constraint on agentstore_log?)"
                    ) from exc
                continue
            last = rows[-1]
            self._remember(stream, writer, last[2], last[5])
            return _entries(rows, positions)

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        """Read the recorded head inside a write transaction and, when it is
        ``expect_head``, append there in that transaction; else raise HeadMoved, the
        transaction rolled back with nothing written. Where the transaction holds the
        write lock (SQLite) no other append can come between the read and the write; where
        it does not, the primary key refuses the second of two racing on one head, which
        then finds the head moved."""
        backend = self._backend
        for _ in range(8):
            try:
                with backend.transaction():
                    head = self._read_head(stream, writer)
                    if head[0] != expect_head:
                        raise HeadMoved(stream, writer, expect_head, head[0])
                    if not payloads:
                        return []
                    rows = _chain(stream, writer, head, payloads)
                    positions = self._write(rows)
            except HeadMoved:
                raise
            except Conflict:
                actual = self._read_head(stream, writer)[0]
                if actual != expect_head:
                    raise HeadMoved(stream, writer, expect_head, actual) from None
                continue  # a position taken by a concurrent transaction: try again
            last = rows[-1]
            self._remember(stream, writer, last[2], last[5])
            return _entries(rows, positions)
        self._verify(stream, writer)
        raise StoreError(
            f"{backend.location}: appending to stream {stream!r}, writer {writer!r} after "
            f"seq {expect_head} conflicts with something other than a newer entry"
        )

    def _write(self, rows: Sequence[_EntryRow]) -> Sequence[int] | None:
        """Write chained rows inside the caller's transaction; their positions."""
        if len(rows) == 1:
            position = self._insert_one(rows[0])
            return None if position is None else (position,)
        return self._insert_many(rows)

    # The two hooks that write entries. The portable default writes the rows and moves the
    # head in one transaction; a driver substitutes its dialect's faster or safer
    # statements (one statement that moves the head too, a bulk copy, a guarded insert).
    # Each runs in the caller's transaction when there is one, raises Conflict when a seq
    # (or a position) is taken, and returns the positions it gave (None: a driver's
    # override from before positions; its entries then carry position 0).

    def _insert_one(self, row: _EntryRow) -> int | None:
        """Write one chained row (in :class:`Entry` field order) and move the head to it,
        all or nothing; its position."""
        with self._backend.transaction():
            position = self._next_position()
            self._exec(self._insert_sql, (*row, position))
            self._exec(self._move_head_sql, (row[0], row[1], row[2], row[5]))
        return position

    def _insert_many(self, rows: Sequence[_EntryRow]) -> Sequence[int] | None:
        """Write chained rows (in :class:`Entry` field order), all or none, and move the
        head to the last; called inside the caller's transaction; their positions."""
        first = self._next_position()
        self._backend.exec_many(self._insert_sql, [(*row, p) for p, row in enumerate(rows, first)])
        last = rows[-1]
        self._exec(self._move_head_sql, (last[0], last[1], last[2], last[5]))
        return range(first, first + len(rows))

    def _next_position(self) -> int:
        """One past the largest stored position; read inside the write transaction."""
        found = self._backend.query(self.MAX_POSITION)
        return cast(int, found[0][0] or 0) + 1

    def _remember(self, stream: str, writer: str, seq: int, digest: bytes | None) -> None:
        heads = self._heads
        if len(heads) >= self.MAX_CACHED_HEADS:
            heads.clear()
        heads[(stream, writer)] = (seq, digest)

    def _read_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        rows = self._backend.query(self.HEAD, (stream, writer))
        if not rows:
            return 0, None
        return cast(int, rows[0][0]), cast(bytes, rows[0][1])

    # -- reads -----------------------------------------------------------------------------

    def _head(self, stream: str, writer: str) -> Entry | None:
        rows = self._backend.query(self.LAST, (stream, writer))
        return _entry(stream, writer, rows[0]) if rows else None

    def _pages(self, stream: str, writer: str, after: int | None) -> Iterator[list[Row]]:
        """Pages of stored rows with ``seq > after`` (every row when None); no database
        resource is held between them."""
        query, size = self._backend.query, self._page_size
        while True:
            if after is None:
                rows = query(self.FIRST_PAGE, (stream, writer, size))
            else:
                rows = query(self.PAGE, (stream, writer, after, size))
            if rows:
                yield rows
            if len(rows) < size:
                return
            after = cast(int, rows[-1][0])

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        for rows in self._pages(stream, writer, after):
            for seq, payload, prev, digest, position, redacted in rows:
                yield _new_tuple(
                    Entry,
                    (stream, writer, seq, payload, prev, digest, position, redacted == 1),
                )

    def _chain_rows(self, stream: str, writer: str, after: int | None = None) -> Iterator[ChainRow]:
        """The stored rows with ``seq > after`` (every row when None) in seq order, each
        checked for its columns' types (SQL lets an edit store text where bytes were); a
        redacted row's payload is None."""
        expected = 1 if after is None else after + 1
        for rows in self._pages(stream, writer, after):
            for seq, payload, prev, digest, _, redacted in rows:
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
                if redacted:
                    if payload:
                        raise ChainBroken(
                            stream, writer, seq, "an entry marked redacted still holds a payload"
                        )
                    yield seq, None, prev, digest
                else:
                    yield seq, payload, prev, digest

    def _verify(self, stream: str, writer: str) -> Verified:
        return verify_to_head(stream, writer, self._chain_rows(stream, writer), self._read_head)

    # -- the store in position order -------------------------------------------------------

    def _feed(self, after: int, limit: int | None) -> Iterator[CommitEvent]:
        """Committed entries with ``position > after`` in position order, a page per query.

        Every page reads a prefix of the positions: a position is assigned inside the
        write transaction as one past the largest committed, so positions commit in order
        and none below one already read can appear later."""
        query, sql = self._backend.query, self.FEED_PAGE
        for rows in feed_pages(
            lambda start, n: query(sql, (start, n)), after, limit, self._page_size
        ):
            for row in rows:
                yield _new_tuple(CommitEvent, row)

    def _feed_prefixed(self, prefix: str, after: int, limit: int | None) -> Iterator[CommitEvent]:
        """As :meth:`_feed`, the streams starting with ``prefix`` only, selected by the
        database (a range of the stream column)."""
        query, sql, low, high = self._backend.query, self.FEED_PREFIX_PAGE, *prefix_range(prefix)
        for rows in feed_pages(
            lambda start, n: query(sql, (start, low, high, n)), after, limit, self._page_size
        ):
            for row in rows:
                yield _new_tuple(CommitEvent, row)

    def _position(self) -> int:
        return cast(int, self._backend.query(self.MAX_POSITION)[0][0] or 0)

    def _stream_entries(self, stream: str, after: int) -> Iterator[Entry]:
        """The entries of every writer of ``stream`` with ``position > after``, up to the
        position committed when the read starts, merged by position (each log's positions
        grow with its seqs); memory holds a page per writer, never the stream."""
        query = self._backend.query
        return stream_entries(
            stream,
            after,
            bound=self._position(),
            writers=lambda w: query(self.NEXT_WRITER, (stream, w)),
            position_at=lambda w, seq: query(self.POSITION_AT, (stream, w, seq)),
            head=lambda w: self._read_head(stream, w)[0],
            page=lambda w, seq, n: [
                _entry(stream, w, row) for row in query(self.PAGE, (stream, w, seq, n))
            ],
            page_size=self._page_size,
        )

    # -- erasure ---------------------------------------------------------------------------

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        """Empty the payload of entry ``seq`` and mark it redacted, in one transaction; an
        entry already redacted is returned as it is. The bytes leave the row; a driver
        whose storage keeps old row versions (free pages, a write-ahead log) scrubs them
        too (see ``agentstore_sqlite``).

        Raises:
            NotFound: the log has no entry ``seq``.
        """
        backend = self._backend
        with backend.transaction():
            found = backend.query(self.ENTRY_AT, (stream, writer, seq))
            if not found:
                raise NotFound(f"log ({stream!r}, {writer!r}) has no entry at seq {seq}")
            if found[0][5] != 1:
                self._exec(self._redact_sql, (b"", stream, writer, seq))
        s, _, prev, digest, position, _ = found[0]
        return _entry(stream, writer, (s, b"", prev, digest, position, 1))

    def tamper(self, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        """Overwrite the stored row at ``seq`` with ``entry``'s payload and hashes, or delete
        it when ``entry`` is None, bypassing every check but the database's own: for
        tamper-detection tests only.

        Raises:
            agentstore.conformance.TamperRefused: the database's constraints refuse the edit.
        """
        where = "WHERE stream = ? AND writer = ? AND seq = ?"
        try:
            if entry is None:
                self._exec(f"DELETE FROM {self._rows_table} {where}", (stream, writer, seq))
            else:
                self._exec(
                    f"UPDATE {self._rows_table} SET payload = ?, prev_hash = ?, content_hash = ? "
                    + where,
                    (entry.payload, entry.prev_hash, entry.content_hash, stream, writer, seq),
                )
        except StoreError as exc:
            if isinstance(exc, Conflict | BackendUnavailable):
                raise
            from agentstore.conformance.support import TamperRefused

            raise TamperRefused(str(exc)) from exc
        finally:
            self._heads.pop((stream, writer), None)

    def _logs(self) -> Iterator[tuple[str, str]]:
        # A skip scan over the primary keys: one indexed lookup per log, not per entry.
        rows = self._next_log("", "")
        while rows:
            stream, writer = cast(tuple[str, str], rows[0])
            yield stream, writer
            rows = self._next_log(stream, writer)

    def _logs_prefixed(self, prefix: str) -> Iterator[tuple[str, str]]:
        # The skip scan from the prefix, stopped past it: names sort by code point (the
        # name columns' binary collation), so the prefix's logs are one run.
        rows = self._next_log(prefix, "")
        while rows:
            stream, writer = cast(tuple[str, str], rows[0])
            if not stream.startswith(prefix):
                return
            yield stream, writer
            rows = self._next_log(stream, writer)

    def _next_log(self, stream: str, writer: str) -> list[Row]:
        """The first log (stream, writer) after the given key; a driver whose layout finds
        it in one seek overrides this."""
        return self._backend.query(self.NEXT_LOG, (stream, writer, stream, writer))


_EntryRow = tuple[str, str, int, bytes, bytes | None, bytes]


def _entries(rows: Sequence[_EntryRow], positions: Sequence[int] | None) -> list[Entry]:
    """The entries of rows just written, with the positions they were given."""
    if positions is None:
        return [_new_tuple(Entry, (*row, 0, False)) for row in rows]
    return [_new_tuple(Entry, (*row, p, False)) for row, p in zip(rows, positions, strict=True)]


def _entry(stream: str, writer: str, row: Row) -> Entry:
    """An entry from a stored row of ``seq, payload, prev_hash, content_hash, position,
    redacted``."""
    seq, payload, prev, digest, position, redacted = row
    entry: Entry = _new_tuple(
        Entry, (stream, writer, seq, payload, prev, digest, position, redacted == 1)
    )
    return entry


def _chain(
    stream: str, writer: str, head: tuple[int, bytes | None], payloads: Sequence[bytes]
) -> list[_EntryRow]:
    """The INSERT rows (in :class:`Entry` field order) chaining ``payloads`` after ``head``."""
    seq, prev = head
    out: list[_EntryRow] = []
    add = out.append
    for payload in payloads:
        seq += 1
        digest = blake3(payload if prev is None else prev + payload).digest()
        add((stream, writer, seq, payload, prev, digest))
        prev = digest
    return out


__all__ = ["PAGE_SIZE", "SqlGenerationStore", "SqlLogStore"]
