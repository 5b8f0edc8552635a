"""Generations and writer logs, written once over a :class:`~agentstore.sql.backend.Backend`.

The statements are portable between SQLite (3.35 and later) and PostgreSQL: ``?``
placeholders, ``INSERT ... ON CONFLICT ... DO UPDATE`` and ``RETURNING``. Atomicity comes
from single statements or from the primary keys, never from a lock held in this process,
so the guarantees hold across processes that share the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final, cast

from blake3 import blake3

from agentstore.capabilities import (
    GenerationStore,
    WriterLogStore,
)
from agentstore.chain import ChainRow, verify_to_head
from agentstore.errors import (
    BackendUnavailable,
    ChainBroken,
    Conflict,
    NonMonotonicGeneration,
    StoreError,
)
from agentstore.sql.backend import Backend, Row
from agentstore.sql.schema import layout_of
from agentstore.types import (
    Entry,
)

PAGE_SIZE: Final = 2000
"""Rows read per query when streaming entries: memory stays bounded by one page."""

_new_tuple = tuple.__new__
_UNPOSITIONED: Final = (0, False)
"""The trailing ``position`` and ``redacted`` of an Entry built from a stored row."""


# -- generations ---------------------------------------------------------------------------


class SqlGenerationStore(GenerationStore):
    """Generations in ``agentstore_generations``; each bump is one atomic upsert."""

    _GET = "SELECT value FROM agentstore_generations WHERE name = ?"
    _BUMP = (
        "INSERT INTO agentstore_generations (name, value) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = agentstore_generations.value + 1 "
        "RETURNING value"
    )
    _ADVANCE = (
        "INSERT INTO agentstore_generations (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value "
        "WHERE agentstore_generations.value <= excluded.value "
        "RETURNING value"
    )

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _current(self, name: str) -> int:
        rows = self._backend.query(self._GET, (name,))
        return cast(int, rows[0][0]) if rows else 0

    def _bump(self, name: str) -> int:
        return cast(int, self._backend.query(self._BUMP, (name,))[0][0])

    def _advance_to(self, name: str, value: int) -> int:
        if self._backend.query(self._ADVANCE, (name, value)):
            return value
        # The guarded update matched nothing: the stored value was above ``value``, and
        # generations only grow, so reading it again gives a value that is still above.
        raise NonMonotonicGeneration(name, self._current(name), value)


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
    """

    INSERT: Final = (
        "INSERT INTO {table} (stream, writer, seq, payload, prev_hash, content_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )
    HEAD: Final = (
        "SELECT seq, content_hash FROM agentstore_log_heads WHERE stream = ? AND writer = ?"
    )
    LAST: Final = (
        "SELECT seq, payload, prev_hash, content_hash FROM agentstore_log "
        "WHERE stream = ? AND writer = ? ORDER BY seq DESC LIMIT 1"
    )
    PAGE: Final = (
        "SELECT seq, payload, prev_hash, content_hash FROM agentstore_log "
        "WHERE stream = ? AND writer = ? AND seq > ? ORDER BY seq LIMIT ?"
    )
    FIRST_PAGE: Final = (
        "SELECT seq, payload, prev_hash, content_hash FROM agentstore_log "
        "WHERE stream = ? AND writer = ? ORDER BY seq LIMIT ?"
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
                self._insert_one(row)
            except Conflict:
                pass  # another connection appended: fall through to the locked path
            else:
                self._heads[key] = (seq, digest)
                entry: Entry = _new_tuple(Entry, row + _UNPOSITIONED)
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
                    if len(rows) == 1:
                        self._insert_one(rows[0])
                    else:
                        self._insert_many(rows)
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
            return list(map(_as_entry, rows))

    # The two hooks that write entries. The portable default writes the rows and moves the
    # head in one transaction; a driver substitutes its dialect's faster or safer
    # statements (one statement that moves the head too, a bulk copy, a guarded insert).
    # Each runs in the caller's transaction when there is one, and raises Conflict when a
    # seq is taken.

    def _insert_one(self, row: _EntryRow) -> None:
        """Write one chained row (in :class:`Entry` field order) and move the head to it,
        all or nothing."""
        with self._backend.transaction():
            self._exec(self._insert_sql, row)
            self._exec(self._move_head_sql, (row[0], row[1], row[2], row[5]))

    def _insert_many(self, rows: Sequence[_EntryRow]) -> None:
        """Write chained rows (in :class:`Entry` field order), all or none, and move the
        head to the last; called inside the caller's transaction."""
        self._backend.exec_many(self._insert_sql, rows)
        last = rows[-1]
        self._exec(self._move_head_sql, (last[0], last[1], last[2], last[5]))

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
        if not rows:
            return None
        entry: Entry = _new_tuple(Entry, (stream, writer, *rows[0], *_UNPOSITIONED))
        return entry

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
            for seq, payload, prev, digest in rows:
                yield _new_tuple(Entry, (stream, writer, seq, payload, prev, digest, 0, False))

    def _chain_rows(self, stream: str, writer: str, after: int | None = None) -> Iterator[ChainRow]:
        """The stored rows with ``seq > after`` (every row when None) in seq order, each
        checked for its columns' types: SQL lets an edit store text where bytes were."""
        expected = 1 if after is None else after + 1
        for rows in self._pages(stream, writer, after):
            for row in rows:
                seq, payload, prev, digest = row
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
                yield cast(ChainRow, row)

    def _verify(self, stream: str, writer: str) -> int:
        return verify_to_head(stream, writer, self._chain_rows(stream, writer), self._read_head)

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

    def _next_log(self, stream: str, writer: str) -> list[Row]:
        """The first log (stream, writer) after the given key; a driver whose layout finds
        it in one seek overrides this."""
        return self._backend.query(self.NEXT_LOG, (stream, writer, stream, writer))


_EntryRow = tuple[str, str, int, bytes, bytes | None, bytes]


def _as_entry(row: _EntryRow) -> Entry:
    entry: Entry = _new_tuple(Entry, row + _UNPOSITIONED)
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
