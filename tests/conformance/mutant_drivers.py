"""Deliberately broken drivers, each a memory driver with one contract violation.

``test_contracts_catch_bugs.py`` runs the contract tests named in :data:`MUTANTS` against
each of them and expects every one to fail: proof that the suite notices the bug. A
mutant is run as a driver that does not persist unless :data:`SUPPORT` says otherwise.
Collected only when named on the command line (not a ``test_*.py`` file).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from agentstore import (
    AgentId,
    Entry,
    NotFound,
    PolicyDocument,
    Registry,
    StorePolicy,
    WriterLogStore,
    chain_hash,
)
from agentstore.conformance import (
    AuditSinkContract,
    ConformanceSupport,
    ContractBase,
    CredentialStoreContract,
    GenerationContract,
    LifecycleContract,
    PolicyStoreContract,
    RateLimitContract,
    RateLimitHitContract,
    SessionStoreContract,
    WriterLogContract,
    tamper_via_log_store,
)
from agentstore.driver import DriverSpec, DriverStores, LogAuditSink, OpenContext
from agentstore_memory import open_memory
from agentstore_memory.stores import (
    MemoryCredentialStore,
    MemoryGenerationStore,
    MemoryLifecycleStore,
    MemoryLogStore,
    MemoryPolicyStore,
    MemoryRateLimitCounter,
    MemorySessionStore,
)
from blake3 import blake3
from mutant_rate_limits import ForgetsPreviousWindow, RacyHit, RefusalCounts


class BumpReturnsOld(MemoryGenerationStore):
    def _bump(self, name: str) -> int:
        return super()._bump(name) - 1


class AdvancesBackward(MemoryGenerationStore):
    def _advance_to(self, name: str, value: int) -> int:
        self._values[name] = value
        return value


class ReversedChain(MemoryLogStore):
    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        with self._lock:
            log = self._data.setdefault((stream, writer), [])
            prev = log[-1].content_hash if log else None
            digest = blake3(payload + (prev or b"")).digest()
            entry = Entry(stream, writer, len(log) + 1, payload, prev, digest)
            log.append(entry)
            return entry


class SeqFromZero(MemoryLogStore):
    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        entry = super()._append(stream, writer, payload)
        return entry._replace(seq=entry.seq - 1)


class RacyLog(MemoryLogStore):
    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        log = self._data.setdefault((stream, writer), [])
        seq = len(log) + 1
        time.sleep(0.0005)  # read, then write: the window a lock (or a transaction) closes
        prev = log[-1].content_hash if log else None
        entry = Entry(stream, writer, seq, payload, prev, chain_hash(prev, payload))
        log.append(entry)
        return entry


class LogsInWriteOrder(MemoryLogStore):
    def _logs(self) -> Iterator[tuple[str, str]]:
        return iter([k for k, v in self._data.items() if v])


class LogsSortedAsJoinedNames(MemoryLogStore):
    def _logs(self) -> Iterator[tuple[str, str]]:
        return iter(sorted((k for k, v in self._data.items() if v), key=":".join))


class PlainLog(WriterLogStore):
    """A log kept the naive way: the last stored entry is the head, nothing is recorded
    apart from the entries, and verify is WriterLogStore's default; no tamper hook."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], list[Entry]] = {}

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return self._append_many(stream, writer, [payload])[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        with self._lock:
            log = self._data.setdefault((stream, writer), [])
            seq, prev = (log[-1].seq, log[-1].content_hash) if log else (0, None)
            out = []
            for payload in payloads:
                seq += 1
                entry = Entry(stream, writer, seq, payload, prev, chain_hash(prev, payload))
                out.append(entry)
                prev = entry.content_hash
            log.extend(out)
            return out

    def _head(self, stream: str, writer: str) -> Entry | None:
        log = self._data.get((stream, writer))
        return log[-1] if log else None

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        with self._lock:
            stored = list(self._data.get((stream, writer), ()))
        return iter([e for e in stored if e.seq > after])

    def _logs(self) -> Iterator[tuple[str, str]]:
        with self._lock:
            return iter(sorted(k for k, v in self._data.items() if v))


class TruncatableLog(PlainLog):
    """PlainLog with a tamper hook: the suite can delete its last entry, unnoticed."""

    def tamper(self, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        with self._lock:
            log = self._data[(stream, writer)]
            i = next(i for i, e in enumerate(log) if e.seq == seq)
            if entry is None:
                del log[i]
            else:
                log[i] = entry


class HeadedLog(TruncatableLog):
    """Not a mutant: TruncatableLog that records each log's head with every append and
    builds on it, and returns it from ``_recorded_head`` (its verify is still the default)."""

    def __init__(self) -> None:
        super().__init__()
        self._heads: dict[tuple[str, str], tuple[int, bytes | None]] = {}

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        with self._lock:
            key = (stream, writer)
            seq, prev = self._heads.get(key, (0, None))
            out = []
            for payload in payloads:
                seq += 1
                entry = Entry(stream, writer, seq, payload, prev, chain_hash(prev, payload))
                out.append(entry)
                prev = entry.content_hash
            self._data.setdefault(key, []).extend(out)
            self._heads[key] = (seq, prev)
            return out

    def _recorded_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        with self._lock:
            return self._heads.get((stream, writer), (0, None))

    def _logs(self) -> Iterator[tuple[str, str]]:
        with self._lock:  # a log whose entries were all deleted is still listed
            return iter(sorted({k for k, v in self._data.items() if v} | set(self._heads)))


class StrictInvalidate(MemoryPolicyStore):
    def _invalidate(self, agent_id: AgentId) -> None:
        if agent_id not in self._docs:
            raise NotFound(f"no policy for {agent_id}")
        super()._invalidate(agent_id)


class FirstSaveWins(MemorySessionStore):
    def _save(self, record: Any) -> None:
        self._records.setdefault(record.session_id, (record, None))


class LeakyCredentials(MemoryCredentialStore):
    def __repr__(self) -> str:
        return f"<LeakyCredentials {self._secrets!r}>"


class NeverExpires(MemoryRateLimitCounter):
    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        return super()._increment(key, amount, 1e12, now)


class RacyCounter(MemoryRateLimitCounter):
    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        w = self._windows.setdefault(key, [now + window_secs, 0])
        total = w[1] + amount
        time.sleep(0.0005)
        w[1] = total
        return int(total)


class WrappingCounter(MemoryRateLimitCounter):
    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        w = self._windows.setdefault(key, [now + window_secs, 0])
        w[1] += amount  # past 2**63-1 too, as SQLite once did
        return int(w[1])


def _thawed(value: Any) -> Any:
    """A plain, mutable copy of a frozen JSON value."""
    if isinstance(value, dict):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thawed(v) for v in value]
    return value


class SharedPolicies(MemoryPolicyStore):
    """Keeps the policy body as a plain dict and hands that same dict to every reader."""

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        shared = object.__new__(PolicyDocument)
        object.__setattr__(shared, "body", _thawed(document.body))
        super()._put(agent_id, shared)


class HeartbeatRegisters(MemoryLifecycleStore):
    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        if self._info(agent_id) is None:
            self._register(agent_id, now)
        return super()._heartbeat(agent_id, now)


class ExclusiveTtl(MemoryLifecycleStore):
    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        return [a for a, info in self._agents.items() if info.last_heartbeat > cutoff]


def _driver(
    name: str, capability: str, make: Callable[[OpenContext], object], **declared: Any
) -> DriverSpec:
    def _open(config: Any, context: OpenContext) -> DriverStores:
        stores = open_memory(context)
        setattr(stores, capability, make(context))
        return stores

    return DriverSpec(name=name, open=_open, **declared)


# name -> (contract, capability, broken store, the contract tests that must fail)
MUTANTS: dict[str, tuple[type[ContractBase], str, Callable[[OpenContext], object], list[str]]] = {
    "bump_returns_old": (
        GenerationContract,
        "generations",
        lambda c: BumpReturnsOld(),
        [
            "test_generation_first_bump_is_one_then_contiguous",
            "test_generation_bumps_exact_under_threads",
        ],
    ),
    "advances_backward": (
        GenerationContract,
        "generations",
        lambda c: AdvancesBackward(),
        ["test_generation_advance_backward_raises_and_changes_nothing"],
    ),
    "reversed_chain": (
        WriterLogContract,
        "logs",
        lambda c: ReversedChain(),
        ["test_log_chain_bytes_known_vector", "test_log_chain_links"],
    ),
    "seq_from_zero": (
        WriterLogContract,
        "logs",
        lambda c: SeqFromZero(),
        ["test_log_genesis_entry", "test_log_seq_is_per_stream_and_writer"],
    ),
    "racy_log": (
        WriterLogContract,
        "logs",
        lambda c: RacyLog(),
        ["test_log_concurrent_appends_are_contiguous"],
    ),
    "logs_in_write_order": (
        WriterLogContract,
        "logs",
        lambda c: LogsInWriteOrder(),
        ["test_logs_are_sorted_by_stream_then_writer"],
    ),
    "logs_sorted_as_joined_names": (
        WriterLogContract,
        "logs",
        lambda c: LogsSortedAsJoinedNames(),
        ["test_logs_are_sorted_by_stream_then_writer"],
    ),
    # Persistent (see SUPPORT), tamper-evident by default, but nothing lets the suite
    # edit its chains: every tamper test fails rather than skips.
    "untestable_tampering": (
        WriterLogContract,
        "logs",
        lambda c: PlainLog(),
        [
            "test_log_tamper_edited_payload",
            "test_log_tamper_edited_genesis_payload",
            "test_log_tamper_deleted_middle_entry",
            "test_log_tamper_swapped_entries",
            "test_log_tamper_edited_prev_hash",
            "test_log_tamper_genesis_given_a_prev_hash",
            "test_log_tamper_edited_last_content_hash",
            "test_log_tamper_deleted_last_entry",
            "test_log_tamper_deleted_last_entry_then_appended",
            "test_log_tamper_deleted_every_entry",
            "test_log_tamper_rehashed_entry_breaks_the_next_link",
        ],
    ),
    "untestable_audit_tampering": (
        AuditSinkContract,
        "audit",
        lambda c: LogAuditSink(PlainLog()),
        [
            "test_audit_tamper_edited_entry",
            "test_audit_tamper_deleted_entry",
            "test_audit_tamper_deleted_last_entry",
        ],
    ),
    # The suite can tamper, and the default verify misses a truncated log.
    "truncation_unnoticed": (
        WriterLogContract,
        "logs",
        lambda c: TruncatableLog(),
        [
            "test_log_tamper_deleted_last_entry",
            "test_log_tamper_deleted_last_entry_then_appended",
            "test_log_tamper_deleted_every_entry",
        ],
    ),
    "audit_truncation_unnoticed": (
        AuditSinkContract,
        "audit",
        lambda c: LogAuditSink(TruncatableLog()),
        ["test_audit_tamper_deleted_last_entry"],
    ),
    "strict_invalidate": (
        PolicyStoreContract,
        "policies",
        lambda c: StrictInvalidate(),
        ["test_policy_invalidate_is_idempotent"],
    ),
    "first_save_wins": (
        SessionStoreContract,
        "sessions",
        lambda c: FirstSaveWins(),
        ["test_session_save_overwrites"],
    ),
    "leaky_credentials": (
        CredentialStoreContract,
        "credentials",
        lambda c: LeakyCredentials(),
        ["test_credential_value_never_shown"],
    ),
    "never_expires": (
        RateLimitContract,
        "rate_limits",
        lambda c: NeverExpires(c.clock),
        ["test_rate_limit_window_expires", "test_rate_limit_new_window_opens_at_next_increment"],
    ),
    "racy_counter": (
        RateLimitContract,
        "rate_limits",
        lambda c: RacyCounter(c.clock),
        ["test_rate_limit_exact_under_threads"],
    ),
    "wrapping_counter": (
        RateLimitContract,
        "rate_limits",
        lambda c: WrappingCounter(c.clock),
        ["test_rate_limit_total_past_64_bits_is_refused"],
    ),
    "racy_hit": (
        RateLimitHitContract,
        "rate_limits",
        lambda c: RacyHit(c.clock),
        ["test_rate_limit_hit_never_passes_the_limit_under_threads"],
    ),
    "refusal_counts": (
        RateLimitHitContract,
        "rate_limits",
        lambda c: RefusalCounts(c.clock),
        ["test_rate_limit_hit_refused_counts_nothing"],
    ),
    "forgets_previous_window": (
        RateLimitHitContract,
        "rate_limits",
        lambda c: ForgetsPreviousWindow(c.clock),
        ["test_rate_limit_sliding_window_weighs_the_previous_window"],
    ),
    "shared_policies": (
        PolicyStoreContract,
        "policies",
        lambda c: SharedPolicies(),
        ["test_policy_values_are_detached_and_frozen"],
    ),
    "heartbeat_registers": (
        LifecycleContract,
        "lifecycle",
        lambda c: HeartbeatRegisters(c.clock),
        ["test_lifecycle_unregistered_agent_is_not_found"],
    ),
    "exclusive_ttl": (
        LifecycleContract,
        "lifecycle",
        lambda c: ExclusiveTtl(c.clock),
        ["test_lifecycle_live_within_ttl"],
    ),
}

PERSISTENT = ConformanceSupport(persistent=True, tamper=tamper_via_log_store)
UNTESTABLE = ConformanceSupport(persistent=True)  # no tamper hook at all
SUPPORT: dict[str, ConformanceSupport] = {
    "untestable_tampering": UNTESTABLE,
    "untestable_audit_tampering": UNTESTABLE,
    "truncation_unnoticed": PERSISTENT,
    "audit_truncation_unnoticed": PERSISTENT,
}
"""Mutants that claim to persist (so a missing tamper hook is a failure, not a skip)."""

REGISTRY = Registry(load_entry_points=False)
for _name, (_contract, _cap, _make, _) in MUTANTS.items():
    REGISTRY.register(_driver(_name, _cap, _make))


def _suite(
    name: str, contract: type[ContractBase], registry: Registry, prefix: str = "TestMutant"
) -> type:
    @pytest.fixture
    def agentstore_policy(self: object, tmp_path: Path) -> Iterator[StorePolicy]:
        yield StorePolicy(name)

    body = {
        "registry": registry,
        "conformance": SUPPORT.get(
            name, ConformanceSupport(persistent=False, tamper=tamper_via_log_store)
        ),
        "agentstore_policy": agentstore_policy,
    }
    return type(f"{prefix}_{name}", (contract,), body)


for _name, (_contract, *_rest) in MUTANTS.items():
    globals()[f"TestMutant_{_name}"] = _suite(_name, _contract, REGISTRY)


# Honest drivers: persistent, with the same logs, but declaring what they cannot keep on
# their DriverSpec. The suite skips those tests, with the reason, and runs the rest.
DECLARED: dict[str, tuple[type[ContractBase], str, Callable[[OpenContext], object]]] = {
    "declared_truncatable": (WriterLogContract, "logs", lambda c: TruncatableLog()),
    "declared_untestable": (WriterLogContract, "logs", lambda c: PlainLog()),
    "declared_truncatable_audit": (
        AuditSinkContract,
        "audit",
        lambda c: LogAuditSink(TruncatableLog()),
    ),
}
HONEST = Registry(load_entry_points=False)
for _name, (_contract, _cap, _make) in DECLARED.items():
    SUPPORT[_name] = UNTESTABLE if _name == "declared_untestable" else PERSISTENT
    HONEST.register(_driver(_name, _cap, _make, tamper_evident=False))
    globals()[f"TestDeclared_{_name}"] = _suite(_name, _contract, HONEST, "TestDeclared")
