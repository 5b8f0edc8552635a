"""Native in-memory implementations of every capability."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence

from agentstore import (
    AgentId,
    AgentInfo,
    CredentialStore,
    DriverStores,
    Entry,
    GenerationStore,
    LifecycleStore,
    LogAuditSink,
    NonMonotonicGeneration,
    OpenContext,
    PolicyDocument,
    PolicyStore,
    RateLimitCounter,
    SessionId,
    SessionRecord,
    SessionStore,
    WriterLogStore,
    chain_hash,
)
from agentstore.capabilities import Clock


class MemoryGenerationStore(GenerationStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def _current(self, name: str) -> int:
        return self._values.get(name, 0)

    def _bump(self, name: str) -> int:
        with self._lock:
            value = self._values.get(name, 0) + 1
            self._values[name] = value
            return value

    def _advance_to(self, name: str, value: int) -> int:
        with self._lock:
            current = self._values.get(name, 0)
            if value < current:
                raise NonMonotonicGeneration(name, current, value)
            self._values[name] = value
            return value


class MemoryLogStore(WriterLogStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], list[Entry]] = {}

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        with self._lock:
            log = self._data.get((stream, writer))
            if log is None:
                log = self._data[(stream, writer)] = []
            prev = log[-1].content_hash if log else None
            entry = Entry(stream, writer, len(log) + 1, payload, prev, chain_hash(prev, payload))
            log.append(entry)
            return entry

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        with self._lock:
            log = self._data.setdefault((stream, writer), [])
            prev = log[-1].content_hash if log else None
            seq = len(log)
            out: list[Entry] = []
            for payload in payloads:
                seq += 1
                h = chain_hash(prev, payload)
                out.append(Entry(stream, writer, seq, payload, prev, h))
                prev = h
            log.extend(out)
            return out

    def _head(self, stream: str, writer: str) -> Entry | None:
        log = self._data.get((stream, writer))
        return log[-1] if log else None

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        log = self._data.get((stream, writer), [])
        # Entries are never removed, so reading by index while others append is safe.
        i = after
        while i < len(log):
            yield log[i]
            i += 1

    def _logs(self) -> Iterator[tuple[str, str]]:
        with self._lock:
            keys = sorted(k for k, v in self._data.items() if v)
        yield from keys

    def tamper(self, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        """Replace (or with None, delete) a stored entry: for tamper-detection tests only."""
        with self._lock:
            log = self._data[(stream, writer)]
            if entry is None:
                del log[seq - 1]
            else:
                log[seq - 1] = entry


class MemoryPolicyStore(PolicyStore):
    def __init__(self) -> None:
        self._docs: dict[AgentId, PolicyDocument] = {}

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        self._docs[agent_id] = document

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        return self._docs.get(agent_id)

    def _invalidate(self, agent_id: AgentId) -> None:
        self._docs.pop(agent_id, None)


class MemorySessionStore(SessionStore):
    def __init__(self) -> None:
        self._records: dict[SessionId, SessionRecord] = {}

    def _save(self, record: SessionRecord) -> None:
        self._records[record.session_id] = record

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        return self._records.get(session_id)

    def _delete(self, session_id: SessionId) -> None:
        self._records.pop(session_id, None)


class MemoryCredentialStore(CredentialStore):
    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}

    def _put_secret(self, name: str, value: bytes) -> None:
        self._secrets[name] = value

    def _get_secret(self, name: str) -> bytes | None:
        return self._secrets.get(name)

    def _delete_secret(self, name: str) -> None:
        self._secrets.pop(name, None)

    def __repr__(self) -> str:
        return f"<MemoryCredentialStore secrets={len(self._secrets)}>"


class MemoryRateLimitCounter(RateLimitCounter):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        # key -> [window end, count]
        self._windows: dict[str, list[float]] = {}

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        with self._lock:
            w = self._windows.get(key)
            if w is None or now >= w[0]:
                self._windows[key] = [now + window_secs, amount]
                return amount
            w[1] += amount
            return int(w[1])

    def _current(self, key: str, now: float) -> int:
        w = self._windows.get(key)
        if w is None or now >= w[0]:
            return 0
        return int(w[1])

    def _reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class MemoryLifecycleStore(LifecycleStore):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._agents: dict[AgentId, AgentInfo] = {}

    def _register(self, agent_id: AgentId, now: float) -> None:
        with self._lock:
            self._agents[agent_id] = AgentInfo(agent_id, now, now)

    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        with self._lock:
            info = self._agents.get(agent_id)
            if info is None:
                return False
            self._agents[agent_id] = info._replace(last_heartbeat=now)
            return True

    def _deregister(self, agent_id: AgentId) -> None:
        with self._lock:
            self._agents.pop(agent_id, None)

    def _info(self, agent_id: AgentId) -> AgentInfo | None:
        return self._agents.get(agent_id)

    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        with self._lock:
            return [a for a, info in self._agents.items() if info.last_heartbeat >= cutoff]


def open_memory(context: OpenContext) -> DriverStores:
    """Fresh, empty in-memory stores for the capabilities the context asks for."""
    logs = MemoryLogStore()
    caps = context.capabilities
    return DriverStores(
        generations=MemoryGenerationStore() if "generations" in caps else None,
        logs=logs if "logs" in caps else None,
        policies=MemoryPolicyStore() if "policies" in caps else None,
        audit=LogAuditSink(logs) if "audit" in caps else None,
        sessions=MemorySessionStore() if "sessions" in caps else None,
        credentials=MemoryCredentialStore() if "credentials" in caps else None,
        rate_limits=MemoryRateLimitCounter(context.clock) if "rate_limits" in caps else None,
        lifecycle=MemoryLifecycleStore(context.clock) if "lifecycle" in caps else None,
    )
