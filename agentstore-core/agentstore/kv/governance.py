"""The six governance capabilities over the key-value primitives, and opening them all.

Read-modify-write changes (a rate-limit increment, a heartbeat) are one commit guarded by
the value they were computed from, retried when another commit won, so they are atomic
wherever the driver's commit is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

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
from agentstore.registry import DriverStores, OpenContext
from agentstore.types import (
    AgentId,
    AgentInfo,
    JSONValue,
    PolicyDocument,
    SessionId,
    SessionRecord,
)


class KvPolicyStore(PolicyStore):
    def __init__(self, kv: Lifetime) -> None:
        self._kv = kv

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        self._kv.put(keys.POLICY + agent_id.to_bytes(), document.to_json())

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        raw = self._kv.get(keys.POLICY + agent_id.to_bytes())
        return None if raw is None else PolicyDocument.from_json(raw)

    def _invalidate(self, agent_id: AgentId) -> None:
        self._kv.delete(keys.POLICY + agent_id.to_bytes())


class KvSessionStore(SessionStore):
    """Each record under its session id: the agent id's 16 bytes, then the data's JSON."""

    def __init__(self, kv: Lifetime) -> None:
        self._kv = kv

    def _save(self, record: SessionRecord) -> None:
        value = record.agent_id.to_bytes() + record.data_json()
        self._kv.put(keys.SESSION + record.session_id.to_bytes(), value)

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        raw = self._kv.get(keys.SESSION + session_id.to_bytes())
        if raw is None:
            return None
        data: dict[str, JSONValue] = json.loads(raw[16:])
        return SessionRecord(session_id, AgentId.from_bytes(raw[:16]), data)

    def _delete(self, session_id: SessionId) -> None:
        self._kv.delete(keys.SESSION + session_id.to_bytes())


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

    def __repr__(self) -> str:
        return f"<KvCredentialStore at {self._kv.location}>"


class KvRateLimitCounter(RateLimitCounter):
    """Each key's window end and count under one key; an increment is a compare-and-set."""

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
        self._kv.delete(keys.key(keys.RATE_LIMIT, key))


class KvLifecycleStore(LifecycleStore):
    """Each agent's registration and last heartbeat under its id; a heartbeat is a
    compare-and-set, so it never brings back an agent deregistered meanwhile."""

    def __init__(self, kv: Lifetime, clock: Clock) -> None:
        super().__init__(clock)
        self._kv = kv

    def _register(self, agent_id: AgentId, now: float) -> None:
        self._kv.put(keys.AGENT + agent_id.to_bytes(), keys.pack_times(now, now))

    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        def heartbeat(raw: bytes | None) -> tuple[Writes | None, bool]:
            if raw is None:
                return None, False
            registered, _ = keys.unpack_times(raw)
            return {k: keys.pack_times(registered, now)}, True

        k = keys.AGENT + agent_id.to_bytes()
        return self._kv.update(k, heartbeat)

    def _deregister(self, agent_id: AgentId) -> None:
        self._kv.delete(keys.AGENT + agent_id.to_bytes())

    def _info(self, agent_id: AgentId) -> AgentInfo | None:
        raw = self._kv.get(keys.AGENT + agent_id.to_bytes())
        if raw is None:
            return None
        return AgentInfo(agent_id, *keys.unpack_times(raw))

    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        for k, raw in self._kv.items(keys.AGENT, keys.prefix_end(keys.AGENT)):
            if keys.unpack_times(raw)[1] >= cutoff:
                yield AgentId.from_bytes(k[1:])


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
        sessions=KvSessionStore(life) if "sessions" in caps else None,
        credentials=KvCredentialStore(life) if "credentials" in caps else None,
        rate_limits=KvRateLimitCounter(life, clock) if "rate_limits" in caps else None,
        lifecycle=KvLifecycleStore(life, clock) if "lifecycle" in caps else None,
        close=life.close,
    )


__all__ = [
    "KvCredentialStore",
    "KvLifecycleStore",
    "KvPolicyStore",
    "KvRateLimitCounter",
    "KvSessionStore",
    "open_kv_stores",
]
