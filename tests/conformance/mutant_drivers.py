"""Deliberately broken drivers, each a memory driver with one contract violation.

``test_contracts_catch_bugs.py`` runs the contract tests named in :data:`MUTANTS` against
each of them and expects every one to fail: proof that the suite notices the bug.
Collected only when named on the command line (not a ``test_*.py`` file).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agentstore import (
    AgentId,
    DriverSpec,
    DriverStores,
    Entry,
    NotFound,
    OpenContext,
    PolicyDocument,
    Registry,
    StorePolicy,
    chain_hash,
)
from agentstore.conformance import (
    ConformanceSupport,
    ContractBase,
    CredentialStoreContract,
    GenerationContract,
    LifecycleContract,
    PolicyStoreContract,
    RateLimitContract,
    SessionStoreContract,
    WriterLogContract,
)
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


class StrictInvalidate(MemoryPolicyStore):
    def _invalidate(self, agent_id: AgentId) -> None:
        if agent_id not in self._docs:
            raise NotFound(f"no policy for {agent_id}")
        super()._invalidate(agent_id)


class FirstSaveWins(MemorySessionStore):
    def _save(self, record: Any) -> None:
        self._records.setdefault(record.session_id, record)


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


def _driver(name: str, capability: str, make: Callable[[OpenContext], object]) -> DriverSpec:
    def _open(config: Any, context: OpenContext) -> DriverStores:
        stores = open_memory(context)
        setattr(stores, capability, make(context))
        return stores

    return DriverSpec(name=name, open=_open)


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

REGISTRY = Registry(load_entry_points=False)
for _name, (_contract, _cap, _make, _) in MUTANTS.items():
    REGISTRY.register(_driver(_name, _cap, _make))


def _suite(name: str, contract: type[ContractBase]) -> type:
    @pytest.fixture
    def agentstore_policy(self: object, tmp_path: Path) -> Iterator[StorePolicy]:
        yield StorePolicy(name)

    body = {
        "registry": REGISTRY,
        "conformance": ConformanceSupport(persistent=False),
        "agentstore_policy": agentstore_policy,
    }
    return type(f"TestMutant_{name}", (contract,), body)


for _name, (_contract, *_rest) in MUTANTS.items():
    globals()[f"TestMutant_{_name}"] = _suite(_name, _contract)
