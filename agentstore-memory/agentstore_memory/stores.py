"""Native in-memory implementations of every capability."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterator, Sequence

from agentstore import (
    CommitEvent,
    Entry,
    GenerationStore,
    HeadMoved,
    NonMonotonicGeneration,
    NotFound,
    WriterLogStore,
    chain_hash,
)
from agentstore.chain import check_head, verify_rows
from agentstore.driver import (
    DriverStores,
    LogAuditSink,
    NoConfig,
    OpenContext,
)

from agentstore_memory.forksafe import fork_safe_lock
from agentstore_memory.governance import (
    MemoryCredentialStore,
    MemoryLifecycleStore,
    MemoryPolicyStore,
    MemoryRateLimitCounter,
    MemorySessionStore,
)
from agentstore_memory.lifetime import _Lifetime

log = logging.getLogger("agentstore.memory")


class MemoryGenerationStore(GenerationStore):
    def __init__(self, life: _Lifetime | None = None) -> None:
        self._life = life or _Lifetime()
        self._lock = fork_safe_lock()
        self._values: dict[str, int] = {}

    def _current(self, name: str) -> int:
        self._life.check()
        return self._values.get(name, 0)

    def _bump(self, name: str) -> int:
        self._life.check()
        with self._lock:
            value = self._values.get(name, 0) + 1
            self._values[name] = value
            return value

    def _advance_to(self, name: str, value: int) -> int:
        self._life.check()
        with self._lock:
            current = self._values.get(name, 0)
            if value < current:
                raise NonMonotonicGeneration(name, current, value)
            self._values[name] = value
            return value


class MemoryLogStore(WriterLogStore):
    """Logs as lists, with each log's head recorded apart from its entries.

    Appends build on the recorded head, and verify checks the stored entries against it,
    so an entry deleted behind the store's back (``tamper``) is reported, never replaced.
    Positions come from one store-wide counter moved under the store lock, so they are
    1, 2, 3, ... in commit order; the feed is a list indexed by position.
    """

    def __init__(self, life: _Lifetime | None = None) -> None:
        self._life = life or _Lifetime()
        self._lock = fork_safe_lock()
        self._data: dict[tuple[str, str], list[Entry]] = {}
        self._heads: dict[tuple[str, str], tuple[int, bytes]] = {}
        self._order: list[Entry] = []  # position p is self._order[p - 1]
        self._streams: dict[str, list[int]] = {}  # each stream's positions, increasing

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        self._life.check()
        return self._append_many(stream, writer, (payload,))[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        self._life.check()
        with self._lock:
            return self._commit(stream, writer, payloads)

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        self._life.check()
        with self._lock:
            actual = self._heads.get((stream, writer), (0, None))[0]
            if actual != expect_head:
                raise HeadMoved(stream, writer, expect_head, actual)
            return self._commit(stream, writer, payloads)

    def _commit(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        """Chain and store ``payloads`` after the recorded head; the lock is held."""
        key = (stream, writer)
        seq, prev = self._heads.get(key, (0, None))
        position = len(self._order)
        out: list[Entry] = []
        for payload in payloads:
            seq += 1
            position += 1
            h = chain_hash(prev, payload)
            out.append(Entry(stream, writer, seq, payload, prev, h, position))
            prev = h
        self._store(key, out)
        return out

    def _store(self, key: tuple[str, str], entries: list[Entry]) -> None:
        """Add committed ``entries`` (positioned next) to their log and the feed."""
        self._data.setdefault(key, []).extend(entries)
        self._heads[key] = (entries[-1].seq, entries[-1].content_hash)
        self._order.extend(entries)
        self._streams.setdefault(key[0], []).extend(e.position for e in entries)

    def _recorded_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        """The log's recorded head ``(seq, content_hash)``; ``(0, None)`` when empty."""
        self._life.check()
        return self._heads.get((stream, writer), (0, None))

    def _commit_after(
        self, stream: str, writer: str, head: tuple[int, bytes | None], entries: list[Entry]
    ) -> list[Entry] | None:
        """Store ``entries`` (chained after ``head`` elsewhere) if ``head`` is still the
        recorded head, and return them with their positions; None, storing nothing, when
        another append came first."""
        self._life.check()
        key = (stream, writer)
        with self._lock:
            if self._heads.get(key, (0, None)) != head:
                return None
            base = len(self._order)
            placed = [e._replace(position=base + i) for i, e in enumerate(entries, 1)]
            self._store(key, placed)
            return placed

    def _verify(self, stream: str, writer: str) -> int:
        self._life.check()
        with self._lock:
            stored = list(self._data.get((stream, writer), ()))  # a shallow snapshot
            head = self._heads.get((stream, writer), (0, None))
        rows = (
            (e.seq, None if e.redacted else e.payload, e.prev_hash, e.content_hash) for e in stored
        )
        count, last = verify_rows(stream, writer, rows)
        seq = head[0]
        at_head = [stored[seq - 1].content_hash] if 0 < seq <= count else []
        check_head(stream, writer, count, last, first=head, at_first=at_head, read_head=None)
        return count

    def _head(self, stream: str, writer: str) -> Entry | None:
        self._life.check()
        log = self._data.get((stream, writer))
        return log[-1] if log else None

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        life = self._life
        life.check()
        log = self._data.get((stream, writer), [])
        # Entries are never removed, so reading by index while others append is safe.
        i = after
        while i < len(log):
            life.check()  # an iterator started before close stops at it, as a cursor would
            yield log[i]
            i += 1

    def _feed(self, after: int, limit: int | None) -> Iterator[CommitEvent]:
        life = self._life
        life.check()
        order = self._order
        # Positions are list indexes, appended under the lock in commit order: reading by
        # index while others append never skips one.
        i = after
        end = None if limit is None else after + limit
        while i < len(order) and (end is None or i < end):
            life.check()
            e = order[i]
            yield CommitEvent(e.stream, e.writer, e.seq, e.content_hash, e.position)
            i += 1

    def _position(self) -> int:
        self._life.check()
        return len(self._order)

    def _stream_entries(self, stream: str, after: int) -> Iterator[Entry]:
        life = self._life
        life.check()
        positions = self._streams.get(stream, [])
        i = bisect_right(positions, after)
        while i < len(positions):
            life.check()
            yield self._order[positions[i] - 1]
            i += 1

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        self._life.check()
        with self._lock:
            log = self._data.get((stream, writer), [])
            if not 0 < seq <= len(log) or log[seq - 1].seq != seq:
                raise NotFound(f"log ({stream!r}, {writer!r}) has no entry at seq {seq}")
            entry = log[seq - 1]
            if entry.redacted:
                return entry
            # The payload's only references are these two: dropping them frees the bytes.
            erased = entry._replace(payload=b"", redacted=True)
            log[seq - 1] = erased
            if entry.position and self._order[entry.position - 1] is entry:
                self._order[entry.position - 1] = erased
            return erased

    def _logs(self) -> Iterator[tuple[str, str]]:
        self._life.check()
        with self._lock:  # a log whose entries were all deleted is still listed
            keys = sorted(k for k, v in self._data.items() if v or k in self._heads)
        for key in keys:
            self._life.check()
            yield key

    def tamper(self, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        """Replace (or with None, delete) a stored entry: for tamper-detection tests only."""
        self._life.check()
        with self._lock:
            log = self._data[(stream, writer)]
            if entry is None:
                del log[seq - 1]
            else:
                log[seq - 1] = entry


def open_driver(config: NoConfig, context: OpenContext) -> DriverStores:
    """The driver's ``open``, as every first-party driver names it: :func:`open_memory`."""
    return open_memory(context)


def open_memory(context: OpenContext) -> DriverStores:
    """Fresh, empty in-memory stores for the capabilities the context asks for; closing
    them makes every later call raise StoreError."""
    life = _Lifetime()
    logs = MemoryLogStore(life)
    caps = context.capabilities
    clock = context.clock

    def close() -> None:
        life.closed = True
        log.info("closed an in-memory store")

    log.info("opened an in-memory store (nothing outlives it)")
    return DriverStores(
        generations=MemoryGenerationStore(life) if "generations" in caps else None,
        logs=logs if "logs" in caps else None,
        policies=MemoryPolicyStore(life) if "policies" in caps else None,
        audit=LogAuditSink(logs) if "audit" in caps else None,
        sessions=MemorySessionStore(life, clock) if "sessions" in caps else None,
        credentials=MemoryCredentialStore(life) if "credentials" in caps else None,
        rate_limits=MemoryRateLimitCounter(clock, life) if "rate_limits" in caps else None,
        lifecycle=MemoryLifecycleStore(clock, life) if "lifecycle" in caps else None,
        close=close,
    )


__all__ = [
    "MemoryCredentialStore",
    "MemoryGenerationStore",
    "MemoryLifecycleStore",
    "MemoryLogStore",
    "MemoryPolicyStore",
    "MemoryRateLimitCounter",
    "MemorySessionStore",
    "_Lifetime",
    "open_driver",
    "open_memory",
]
