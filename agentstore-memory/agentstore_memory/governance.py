"""Native in-memory governance stores: policies, sessions, credentials, rate limits and
agents' lifecycle (each tenant's in a store of its own)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from agentstore import (
    AgentId,
    AgentInfo,
    CredentialStore,
    LifecycleStore,
    PolicyDocument,
    PolicyStore,
    RateLimitCounter,
    SessionId,
    SessionRecord,
    SessionStore,
)
from agentstore.capabilities import MAX_INT, Clock
from agentstore.driver import (
    FixedCount,
    SlidingCount,
    SlidingWindow,
)

from agentstore_memory.forksafe import fork_safe_lock
from agentstore_memory.lifetime import _Lifetime
from agentstore_memory.tenants import Scopes

K = TypeVar("K", AgentId, SessionId, str)


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


__all__ = [
    "MemoryCredentialStore",
    "MemoryLifecycleStore",
    "MemoryPolicyStore",
    "MemoryRateLimitCounter",
    "MemorySessionStore",
]
