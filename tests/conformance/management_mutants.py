"""Drivers for the management contracts (listings, session TTLs, pruning).

Mutants each break one duty and must fail the tests aimed at it; first-release drivers
implement only the hooks that were abstract in the first release and must have every
management test skipped with the reason, never failed. Collected only when named on the
command line (not a ``test_*.py`` file).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agentstore import (
    AgentId,
    AgentInfo,
    CredentialStore,
    LifecycleStore,
    PolicyDocument,
    PolicyStore,
    Registry,
    SessionId,
    SessionRecord,
    SessionStore,
)
from agentstore.conformance import (
    ContractBase,
    CredentialListingContract,
    LifecycleManagementContract,
    PolicyListingContract,
    SessionManagementContract,
)
from agentstore.driver import DriverSpec, DriverStores, OpenContext
from agentstore_memory import open_memory
from agentstore_memory.stores import (
    MemoryCredentialStore,
    MemoryLifecycleStore,
    MemorySessionStore,
)
from mutant_drivers import _driver, _suite


class UnsortedSessionIds(MemorySessionStore):
    def _list_sessions(self, after: SessionId | None, now: float) -> Iterator[SessionId]:
        return iter(sorted(super()._list_sessions(after, now), reverse=True))


class ExpiryIgnored(MemorySessionStore):
    def _load_at(self, session_id: SessionId, now: float) -> SessionRecord | None:
        found = self._records.get(session_id)
        return None if found is None else found[0]


class OnePageOfNames(MemoryCredentialStore):
    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        return itertools.islice(super()._list_secret_names(after), 500)


class InclusivePrune(MemoryLifecycleStore):
    def _prune_before(self, cutoff: float) -> int:
        gone = [a for a, info in self._agents.items() if info.last_heartbeat <= cutoff]
        for agent in gone:  # an agent exactly ttl old too
            del self._agents[agent]
        return len(gone)


MUTANTS: dict[str, tuple[type[ContractBase], str, Callable[[OpenContext], object], list[str]]] = {
    "unsorted_session_ids": (
        SessionManagementContract,
        "sessions",
        lambda c: UnsortedSessionIds(None, c.clock),
        [
            "test_session_ids_are_sorted_and_resume_after",
            "test_session_ids_stream_past_a_page_without_the_expired",
        ],
    ),
    "expiry_ignored": (
        SessionManagementContract,
        "sessions",
        lambda c: ExpiryIgnored(None, c.clock),
        ["test_session_ttl_expires_load_and_ids", "test_session_save_again_replaces_the_expiry"],
    ),
    "one_page_of_names": (
        CredentialListingContract,
        "credentials",
        lambda c: OnePageOfNames(),
        ["test_credential_names_stream_past_a_page"],
    ),
    "inclusive_prune": (
        LifecycleManagementContract,
        "lifecycle",
        lambda c: InclusivePrune(c.clock),
        ["test_lifecycle_prune_removes_agents_not_seen_within_ttl"],
    ),
}

REGISTRY = Registry(load_entry_points=False)
for _name, (_contract, _cap, _make, _) in MUTANTS.items():
    REGISTRY.register(_driver(_name, _cap, _make))
    globals()[f"TestMutant_{_name}"] = _suite(_name, _contract, REGISTRY)


# -- a driver written for the first release: only the hooks that were abstract then --------


class OldPolicies(PolicyStore):
    def __init__(self) -> None:
        self._docs: dict[AgentId, PolicyDocument] = {}

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        self._docs[agent_id] = document

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        return self._docs.get(agent_id)

    def _invalidate(self, agent_id: AgentId) -> None:
        self._docs.pop(agent_id, None)


class OldSessions(SessionStore):
    def __init__(self) -> None:  # never calls SessionStore.__init__, as a first driver did
        self._records: dict[SessionId, SessionRecord] = {}

    def _save(self, record: SessionRecord) -> None:
        self._records[record.session_id] = record

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        return self._records.get(session_id)

    def _delete(self, session_id: SessionId) -> None:
        self._records.pop(session_id, None)


class OldCredentials(CredentialStore):
    def __init__(self) -> None:
        self._secrets: dict[str, bytes] = {}

    def _put_secret(self, name: str, value: bytes) -> None:
        self._secrets[name] = value

    def _get_secret(self, name: str) -> bytes | None:
        return self._secrets.get(name)

    def _delete_secret(self, name: str) -> None:
        self._secrets.pop(name, None)

    def __repr__(self) -> str:
        return "<OldCredentials>"


class OldLifecycle(LifecycleStore):
    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self._agents: dict[AgentId, AgentInfo] = {}  # the name a new hook must not shadow

    def _register(self, agent_id: AgentId, now: float) -> None:
        self._agents[agent_id] = AgentInfo(agent_id, now, now)

    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        info = self._agents.get(agent_id)
        if info is not None:
            self._agents[agent_id] = info._replace(last_heartbeat=now)
        return info is not None

    def _deregister(self, agent_id: AgentId) -> None:
        self._agents.pop(agent_id, None)

    def _info(self, agent_id: AgentId) -> AgentInfo | None:
        return self._agents.get(agent_id)

    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        return [a for a, i in self._agents.items() if i.last_heartbeat >= cutoff]


def open_first_release(config: Any, context: OpenContext) -> DriverStores:
    stores = open_memory(context)
    stores.policies = OldPolicies()
    stores.sessions = OldSessions()
    stores.credentials = OldCredentials()
    stores.lifecycle = OldLifecycle(context.clock)
    return stores


FIRST_RELEASE: dict[str, type[ContractBase]] = {
    "policies": PolicyListingContract,
    "sessions": SessionManagementContract,
    "credentials": CredentialListingContract,
    "lifecycle": LifecycleManagementContract,
}
OLD = Registry(load_entry_points=False)
OLD.register(DriverSpec(name="first_release", open=open_first_release))
for _cap, _contract in FIRST_RELEASE.items():
    _cls = _suite("first_release", _contract, OLD, f"TestFirstRelease_{_cap}")
    globals()[_cls.__name__] = _cls
