"""The six governance capabilities over the key-value primitives, and opening them all.

Policies, sessions and agents of a tenant (``store.tenant(name)``) are the same stores over
the tenant's keys (``_scoped``): every key of theirs starts with the tenant's scope
(:func:`~agentstore.kv.keys.tenant_scope`) where the root store's keys start with nothing,
so each listing, purge and prune scans one tenant's range (or the root's) and no other.

Read-modify-write changes (a rate-limit increment, a heartbeat) are one commit guarded by
the value they were computed from, retried when another commit won, so they are atomic
wherever the driver's commit is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from agentstore.capabilities import (
    MAX_INT,
    Clock,
    CredentialStore,
    LifecycleStore,
    LogAuditSink,
    PolicyStore,
    RateLimitCounter,
    SessionStore,
)
from agentstore.errors import SchemaVersionError, StoreNotFound
from agentstore.kv import keys
from agentstore.kv.logs import KvGenerationStore, KvLogStore
from agentstore.kv.primitives import KeyValue, Lifetime, Writes
from agentstore.kv.upgrade import upgrade
from agentstore.ratelimit import FixedCount, SlidingCount, SlidingWindow
from agentstore.registry import DriverStores, OpenContext
from agentstore.types import (
    AgentId,
    AgentInfo,
    JSONValue,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

SMALL_PAGE: Final = 32
"""Pairs a listing asks for per scan where each value may be large (a secret, a session's
data, a policy): the scan returns values too, and memory stays bounded by the page."""


def _after(space: bytes, after: bytes | None) -> bytes:
    """The first key of ``space`` a listing reads: past ``after``'s key when given."""
    return space if after is None else space + after + b"\x00"


class KvPolicyStore(PolicyStore):
    """Each policy under its agent id, in space ``scope + POLICY`` (``scope``: empty for
    the root store, a tenant's scope for its view)."""

    def __init__(self, kv: Lifetime, scope: bytes = b"") -> None:
        self._kv = kv
        self._scope = scope
        self._space = scope + keys.POLICY

    def _scoped(self, tenant: str) -> KvPolicyStore:
        return KvPolicyStore(self._kv, self._scope + keys.tenant_scope(tenant))

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        self._kv.put(self._space + agent_id.to_bytes(), document.to_json())

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        raw = self._kv.get(self._space + agent_id.to_bytes())
        return None if raw is None else PolicyDocument.from_json(raw)

    def _invalidate(self, agent_id: AgentId) -> None:
        self._kv.delete(self._space + agent_id.to_bytes())

    def _list_policies(self, after: AgentId | None) -> Iterator[AgentId]:
        space = self._space
        start = _after(space, None if after is None else after.to_bytes())
        for k, _ in self._kv.items(start, keys.prefix_end(space), SMALL_PAGE):
            yield AgentId.from_bytes(k[len(space) :])


class KvSessionStore(SessionStore):
    """Each record under its session id: the agent id's 16 bytes, its expiry when it has
    one (:func:`~agentstore.kv.keys.pack_session`), then the data's JSON, in space
    ``scope + SESSION``. A purge deletes a record only if its value is still the expired
    one read."""

    def __init__(self, kv: Lifetime, clock: Clock = time.time, scope: bytes = b"") -> None:
        super().__init__(clock)
        self._kv = kv
        self._scope = scope
        self._space = scope + keys.SESSION

    def _scoped(self, tenant: str) -> KvSessionStore:
        return KvSessionStore(self._kv, self.clock, self._scope + keys.tenant_scope(tenant))

    def _save(self, record: SessionRecord) -> None:
        value = keys.pack_session(record.agent_id.to_bytes(), record.data_json(), None)
        self._kv.put(self._space + record.session_id.to_bytes(), value)

    def _save_expiring(self, record: SessionRecord, expires_at: float) -> None:
        value = keys.pack_session(record.agent_id.to_bytes(), record.data_json(), expires_at)
        self._kv.put(self._space + record.session_id.to_bytes(), value)

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        return self._load_at(session_id, self.clock())

    def _load_at(self, session_id: SessionId, now: float) -> SessionRecord | None:
        raw = self._kv.get(self._space + session_id.to_bytes())
        if raw is None:
            return None
        agent, expires_at, data_json = keys.unpack_session(raw)
        if expires_at is not None and now >= expires_at:
            return None
        data: dict[str, JSONValue] = json.loads(data_json)
        return SessionRecord(session_id, AgentId.from_bytes(agent), data)

    def _delete(self, session_id: SessionId) -> None:
        self._kv.delete(self._space + session_id.to_bytes())

    def _list_sessions(self, after: SessionId | None, now: float) -> Iterator[SessionId]:
        space = self._space
        start = _after(space, None if after is None else after.to_bytes())
        for k, raw in self._kv.items(start, keys.prefix_end(space), SMALL_PAGE):
            expires_at = keys.unpack_session(raw)[1]
            if expires_at is None or now < expires_at:
                yield SessionId.from_bytes(k[len(space) :])

    def _purge_expired(self, now: float) -> int:
        purged = 0
        for k, raw in self._kv.items(self._space, keys.prefix_end(self._space), SMALL_PAGE):
            expires_at = keys.unpack_session(raw)[1]
            # Guarded by the value read: a record saved again meanwhile is kept.
            if (
                expires_at is not None
                and now >= expires_at
                and self._kv.commit({k: raw}, {k: None})
            ):
                purged += 1
        return purged


class KvCredentialStore(CredentialStore):
    """Secrets as opaque bytes, one key each; never shown in a repr."""

    def __init__(self, kv: Lifetime) -> None:
        self._kv = kv

    def _put_secret(self, name: str, value: bytes) -> None:
        self._kv.put(keys.key(keys.CREDENTIAL, name), value)

    def _get_secret(self, name: str) -> bytes | None:
        return self._kv.get(keys.key(keys.CREDENTIAL, name))

    def _delete_secret(self, name: str) -> None:
        self._kv.delete(keys.key(keys.CREDENTIAL, name))

    def _swap_secret(self, name: str, expected: bytes, value: bytes) -> bool:
        key = keys.key(keys.CREDENTIAL, name)
        return self._kv.commit({key: expected}, {key: value})

    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        # The scan reads values too: they are dropped at once, never kept or shown.
        start = keys.CREDENTIAL if after is None else keys.key(keys.CREDENTIAL, after) + b"\x00"
        for k, _ in self._kv.items(start, keys.prefix_end(keys.CREDENTIAL), SMALL_PAGE):
            names = keys.split(k[1:], 1)
            if names is not None:
                yield names[0]

    def __repr__(self) -> str:
        return f"<KvCredentialStore at {self._kv.location}>"


class KvRateLimitCounter(RateLimitCounter):
    """Each key's window end and count under one key; an increment is a compare-and-set.

    A key's sliding window is one more key (space ``SLIDING_WINDOW``) holding the end of
    its current window and both counts; a hit is a compare-and-set of it.
    """

    def __init__(self, kv: Lifetime, clock: Clock) -> None:
        super().__init__(clock)
        self._kv = kv

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        def increment(raw: bytes | None) -> tuple[Writes, int]:
            end, count = (0.0, 0) if raw is None else keys.unpack_window(raw)
            if now >= end:  # the window expired (or never opened): a new one opens now
                end, count = now + window_secs, 0
            total = count + amount
            if total > MAX_INT:
                self._refuse_total(key, amount)
            return {k: keys.pack_window(end, total)}, total

        k = keys.key(keys.RATE_LIMIT, key)
        return self._kv.update(k, increment)

    def _current(self, key: str, now: float) -> int:
        raw = self._kv.get(keys.key(keys.RATE_LIMIT, key))
        if raw is None:
            return 0
        end, count = keys.unpack_window(raw)
        return 0 if now >= end else count

    def _reset(self, key: str) -> None:
        fixed, sliding = keys.key(keys.RATE_LIMIT, key), keys.key(keys.SLIDING_WINDOW, key)
        self._kv.commit({}, {fixed: None, sliding: None})

    def _hit_fixed(
        self, key: str, limit: int, cost: int, window_secs: float, now: float
    ) -> FixedCount:
        def hit(raw: bytes | None) -> tuple[Writes | None, FixedCount]:
            end, count = (0.0, 0) if raw is None else keys.unpack_window(raw)
            if now >= end:  # the window expired (or never opened): a new one opens now
                end, count = now + window_secs, 0
            if count > limit - cost:
                return None, FixedCount(False, count, end)
            return {k: keys.pack_window(end, count + cost)}, FixedCount(True, count + cost, end)

        k = keys.key(keys.RATE_LIMIT, key)
        return self._kv.update(k, hit)

    def _fixed_window(self, key: str, now: float) -> tuple[int, float]:
        raw = self._kv.get(keys.key(keys.RATE_LIMIT, key))
        if raw is None:
            return 0, now
        end, count = keys.unpack_window(raw)
        return count, end

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> SlidingCount:
        def hit(raw: bytes | None) -> tuple[Writes | None, SlidingCount]:
            previous, current = window.roll(None if raw is None else keys.unpack_sliding(raw))
            if not window.allows(previous, current, cost, limit):
                return None, SlidingCount(False, previous, current)
            value = keys.pack_sliding(window.end, current + cost, previous)
            return {k: value}, SlidingCount(True, previous, current + cost)

        k = keys.key(keys.SLIDING_WINDOW, key)
        return self._kv.update(k, hit)

    def _sliding_window(self, key: str, window: SlidingWindow) -> tuple[int, int]:
        raw = self._kv.get(keys.key(keys.SLIDING_WINDOW, key))
        return window.roll(None if raw is None else keys.unpack_sliding(raw))


class KvLifecycleStore(LifecycleStore):
    """Each agent's registration and last heartbeat under its id; a heartbeat is a
    compare-and-set, so it never brings back an agent deregistered meanwhile. Keys are in
    space ``scope + AGENT``."""

    def __init__(self, kv: Lifetime, clock: Clock, scope: bytes = b"") -> None:
        super().__init__(clock)
        self._kv = kv
        self._scope = scope
        self._space = scope + keys.AGENT

    def _scoped(self, tenant: str) -> KvLifecycleStore:
        return KvLifecycleStore(self._kv, self.clock, self._scope + keys.tenant_scope(tenant))

    def _register(self, agent_id: AgentId, now: float) -> None:
        self._kv.put(self._space + agent_id.to_bytes(), keys.pack_times(now, now))

    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        def heartbeat(raw: bytes | None) -> tuple[Writes | None, bool]:
            if raw is None:
                return None, False
            registered, _ = keys.unpack_times(raw)
            return {k: keys.pack_times(registered, now)}, True

        k = self._space + agent_id.to_bytes()
        return self._kv.update(k, heartbeat)

    def _deregister(self, agent_id: AgentId) -> None:
        self._kv.delete(self._space + agent_id.to_bytes())

    def _info(self, agent_id: AgentId) -> AgentInfo | None:
        raw = self._kv.get(self._space + agent_id.to_bytes())
        if raw is None:
            return None
        return AgentInfo(agent_id, *keys.unpack_times(raw))

    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        space = self._space
        for k, raw in self._kv.items(space, keys.prefix_end(space)):
            if keys.unpack_times(raw)[1] >= cutoff:
                yield AgentId.from_bytes(k[len(space) :])

    def _list_agents(self, after: AgentId | None) -> Iterator[AgentInfo]:
        space = self._space
        start = _after(space, None if after is None else after.to_bytes())
        for k, raw in self._kv.items(start, keys.prefix_end(space)):
            yield AgentInfo(AgentId.from_bytes(k[len(space) :]), *keys.unpack_times(raw))

    def _prune_before(self, cutoff: float) -> int:
        pruned = 0
        for k, raw in self._kv.items(self._space, keys.prefix_end(self._space)):
            if keys.unpack_times(raw)[1] < cutoff:
                pruned += self._kv.update(k, self._pruning(k, cutoff), known=raw, use_known=True)
        return pruned

    @staticmethod
    def _pruning(k: bytes, cutoff: float) -> Callable[[bytes | None], tuple[Writes | None, bool]]:
        def prune(raw: bytes | None) -> tuple[Writes | None, bool]:
            # Judged on the value now stored: a heartbeat that won the race keeps the agent.
            if raw is None or keys.unpack_times(raw)[1] >= cutoff:
                return None, False
            return {k: None}, True

        return prune


def open_kv_stores(kv: KeyValue, context: OpenContext, *, location: str) -> DriverStores:
    """Every capability ``context`` asks for, built on the primitives ``kv``.

    ``location`` names the storage in error messages (a path, a host and port: never a
    password). Storage holding no store is marked as holding one, unless
    ``context.create`` is False: then this raises StoreNotFound and writes nothing.
    The returned ``close`` closes ``kv`` once; every later call on a capability or a handle
    obtained from one raises StoreError.

    Raises:
        StoreNotFound: ``context.create`` is False and the storage holds no store.
        SchemaVersionError: the storage holds a store in a format this code does not know.
    """
    life = Lifetime(kv, location)
    try:
        found = kv.get(keys.VERSION_KEY)
        if found is None:
            if not context.create:
                raise StoreNotFound(
                    f"{location} holds no agentstore store (opened with create=False)"
                )
            kv.commit({keys.VERSION_KEY: None}, {keys.VERSION_KEY: keys.FORMAT})
        elif found == keys.FORMAT_1:
            if not context.create:
                raise SchemaVersionError(
                    f"{location} holds a store in key-value format 1, which this agentstore "
                    "upgrades in place (giving entries positions): open it once with "
                    "create=True (and no read_only)"
                )
            upgrade(life)
        elif found != keys.FORMAT:
            raise SchemaVersionError(
                f"{location} holds a store in a format this agentstore does not know "
                f"({found[:40]!r}); upgrade agentstore-core"
            )
    except BaseException:
        life.close()
        raise
    caps, clock = context.capabilities, context.clock
    logs = KvLogStore(life) if caps & {"logs", "audit"} else None
    return DriverStores(
        generations=KvGenerationStore(life) if "generations" in caps else None,
        logs=logs if "logs" in caps else None,
        policies=KvPolicyStore(life) if "policies" in caps else None,
        audit=LogAuditSink(logs) if logs is not None and "audit" in caps else None,
        sessions=KvSessionStore(life, clock) if "sessions" in caps else None,
        credentials=KvCredentialStore(life) if "credentials" in caps else None,
        rate_limits=KvRateLimitCounter(life, clock) if "rate_limits" in caps else None,
        lifecycle=KvLifecycleStore(life, clock) if "lifecycle" in caps else None,
        close=life.close,
    )


__all__ = [
    "SMALL_PAGE",
    "KvCredentialStore",
    "KvLifecycleStore",
    "KvPolicyStore",
    "KvRateLimitCounter",
    "KvSessionStore",
    "open_kv_stores",
]
