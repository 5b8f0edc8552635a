"""Native in-memory implementations of every capability."""

from __future__ import annotations

import logging
import time
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from agentstore import (
    AgentId,
    AgentInfo,
    CommitEvent,
    CredentialStore,
    Entry,
    GenerationStore,
    HeadMoved,
    LifecycleStore,
    NonMonotonicGeneration,
    NotFound,
    PolicyDocument,
    PolicyStore,
    RateLimitCounter,
    SessionId,
    SessionRecord,
    SessionStore,
    WriterLogStore,
    chain_hash,
)
from agentstore.capabilities import MAX_INT, Clock
from agentstore.chain import check_head, verify_rows
from agentstore.driver import (
    DriverStores,
    FixedCount,
    LogAuditSink,
    NoConfig,
    OpenContext,
    SlidingCount,
    SlidingWindow,
)
from agentstore.errors import StoreError

from agentstore_memory.forksafe import fork_safe_lock
from agentstore_memory.tenants import Scopes

log = logging.getLogger("agentstore.memory")
K = TypeVar("K", AgentId, SessionId, str)


class _Lifetime:
    """Shared by the stores of one open: once closed, every call on any of them (through a
    handle obtained before closing too) raises StoreError. A store constructed on its own
    has a lifetime of its own, never closed."""

    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False

    def check(self) -> None:
        if self.closed:
            raise StoreError(
                "memory store: the store is closed; open it again with agentstore.open()"
            )


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
                raise NotFound(f"log ({stream!r}, {writer!r}) has no entry {seq}")
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


def _sorted_after(keys: Iterable[K], after: K | None) -> Iterator[K]:
    """``keys`` above ``after`` (None: all), sorted; taken from a copy of the keys."""
    found = sorted(k for k in list(keys) if after is None or k > after)
    return iter(found)


class MemoryPolicyStore(PolicyStore):
    def __init__(self, life: _Lifetime | None = None) -> None:
        self._life = life or _Lifetime()
        self._docs: dict[AgentId, PolicyDocument] = {}
        self._tenants: Scopes[MemoryPolicyStore] = Scopes()

    def _scoped(self, tenant: str) -> MemoryPolicyStore:
        return self._tenants.get(tenant, lambda: MemoryPolicyStore(self._life))

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        self._life.check()
        self._docs[agent_id] = document

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        self._life.check()
        return self._docs.get(agent_id)

    def _invalidate(self, agent_id: AgentId) -> None:
        self._life.check()
        self._docs.pop(agent_id, None)

    def _list_policies(self, after: AgentId | None) -> Iterator[AgentId]:
        self._life.check()
        return _sorted_after(self._docs, after)


class MemorySessionStore(SessionStore):
    """Each record with its expiry (None: never), one dict, changed under one lock."""

    def __init__(self, life: _Lifetime | None = None, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self._life = life or _Lifetime()
        self._lock = fork_safe_lock()
        self._records: dict[SessionId, tuple[SessionRecord, float | None]] = {}
        self._tenants: Scopes[MemorySessionStore] = Scopes()

    def _scoped(self, tenant: str) -> MemorySessionStore:
        return self._tenants.get(tenant, lambda: MemorySessionStore(self._life, self.clock))

    def _save(self, record: SessionRecord) -> None:
        self._life.check()
        with self._lock:
            self._records[record.session_id] = (record, None)

    def _save_expiring(self, record: SessionRecord, expires_at: float) -> None:
        self._life.check()
        with self._lock:
            self._records[record.session_id] = (record, expires_at)

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        return self._load_at(session_id, self.clock())

    def _load_at(self, session_id: SessionId, now: float) -> SessionRecord | None:
        self._life.check()
        found = self._records.get(session_id)
        if found is None or (found[1] is not None and now >= found[1]):
            return None
        return found[0]

    def _delete(self, session_id: SessionId) -> None:
        self._life.check()
        with self._lock:
            self._records.pop(session_id, None)

    def _list_sessions(self, after: SessionId | None, now: float) -> Iterator[SessionId]:
        self._life.check()
        with self._lock:
            live = [k for k, (_, end) in self._records.items() if end is None or now < end]
        return _sorted_after(live, after)

    def _purge_expired(self, now: float) -> int:
        self._life.check()
        with self._lock:
            gone = [k for k, (_, end) in self._records.items() if end is not None and now >= end]
            for k in gone:
                del self._records[k]
        return len(gone)


class MemoryCredentialStore(CredentialStore):
    def __init__(self, life: _Lifetime | None = None) -> None:
        self._life = life or _Lifetime()
        self._secrets: dict[str, bytes] = {}
        self._lock = fork_safe_lock()

    def _put_secret(self, name: str, value: bytes) -> None:
        self._life.check()
        with self._lock:
            self._secrets[name] = value

    def _swap_secret(self, name: str, expected: bytes, value: bytes) -> bool:
        self._life.check()
        with self._lock:
            if self._secrets.get(name) != expected:
                return False
            self._secrets[name] = value
            return True

    def _get_secret(self, name: str) -> bytes | None:
        self._life.check()
        return self._secrets.get(name)

    def _delete_secret(self, name: str) -> None:
        self._life.check()
        with self._lock:
            self._secrets.pop(name, None)

    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        self._life.check()
        return _sorted_after(self._secrets, after)

    def __repr__(self) -> str:
        return f"<MemoryCredentialStore secrets={len(self._secrets)}>"


class MemoryRateLimitCounter(RateLimitCounter):
    def __init__(self, clock: Clock, life: _Lifetime | None = None) -> None:
        super().__init__(clock)
        self._life = life or _Lifetime()
        self._lock = fork_safe_lock()
        # key -> [window end, count]
        self._windows: dict[str, list[float]] = {}
        # key -> (end of the current aligned window, its count, the previous one's count)
        self._sliding: dict[str, tuple[float, int, int]] = {}

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        self._life.check()
        with self._lock:
            w = self._windows.get(key)
            if w is None or now >= w[0]:
                self._windows[key] = [now + window_secs, amount]
                return amount
            total = int(w[1]) + amount
            if total > MAX_INT:
                self._refuse_total(key, amount)
            w[1] = total
            return total

    def _current(self, key: str, now: float) -> int:
        self._life.check()
        w = self._windows.get(key)
        if w is None or now >= w[0]:
            return 0
        return int(w[1])

    def _reset(self, key: str) -> None:
        self._life.check()
        with self._lock:
            self._windows.pop(key, None)
            self._sliding.pop(key, None)

    def _hit_fixed(
        self, key: str, limit: int, cost: int, window_secs: float, now: float
    ) -> FixedCount:
        self._life.check()
        with self._lock:
            w = self._windows.get(key)
            if w is None or now >= w[0]:
                self._windows[key] = [now + window_secs, cost]
                return FixedCount(True, cost, now + window_secs)
            count = int(w[1])
            if count > limit - cost:
                return FixedCount(False, count, w[0])
            w[1] = count + cost
            return FixedCount(True, count + cost, w[0])

    def _fixed_window(self, key: str, now: float) -> tuple[int, float]:
        self._life.check()
        w = self._windows.get(key)
        return (0, now) if w is None else (int(w[1]), w[0])

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> SlidingCount:
        self._life.check()
        with self._lock:
            previous, current = window.roll(self._sliding.get(key))
            if not window.allows(previous, current, cost, limit):
                return SlidingCount(False, previous, current)
            self._sliding[key] = (window.end, current + cost, previous)
            return SlidingCount(True, previous, current + cost)

    def _sliding_window(self, key: str, window: SlidingWindow) -> tuple[int, int]:
        self._life.check()
        return window.roll(self._sliding.get(key))


class MemoryLifecycleStore(LifecycleStore):
    def __init__(self, clock: Clock, life: _Lifetime | None = None) -> None:
        super().__init__(clock)
        self._life = life or _Lifetime()
        self._lock = fork_safe_lock()
        self._agents: dict[AgentId, AgentInfo] = {}
        self._tenants: Scopes[MemoryLifecycleStore] = Scopes()

    def _scoped(self, tenant: str) -> MemoryLifecycleStore:
        return self._tenants.get(tenant, lambda: MemoryLifecycleStore(self.clock, self._life))

    def _register(self, agent_id: AgentId, now: float) -> None:
        self._life.check()
        with self._lock:
            self._agents[agent_id] = AgentInfo(agent_id, now, now)

    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        self._life.check()
        with self._lock:
            info = self._agents.get(agent_id)
            if info is None:
                return False
            self._agents[agent_id] = info._replace(last_heartbeat=now)
            return True

    def _deregister(self, agent_id: AgentId) -> None:
        self._life.check()
        with self._lock:
            self._agents.pop(agent_id, None)

    def _info(self, agent_id: AgentId) -> AgentInfo | None:
        self._life.check()
        return self._agents.get(agent_id)

    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        self._life.check()
        with self._lock:
            return [a for a, info in self._agents.items() if info.last_heartbeat >= cutoff]

    def _list_agents(self, after: AgentId | None) -> Iterator[AgentInfo]:
        self._life.check()
        with self._lock:
            found = dict(self._agents)
        return (found[a] for a in _sorted_after(found, after))

    def _prune_before(self, cutoff: float) -> int:
        self._life.check()
        with self._lock:
            gone = [a for a, info in self._agents.items() if info.last_heartbeat < cutoff]
            for a in gone:
                del self._agents[a]
        return len(gone)


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
