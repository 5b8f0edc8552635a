"""The contract of a whole store: opening, routing and closing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest

import agentstore
from agentstore.capabilities import (
    CapabilityName,
)
from agentstore.conformance.contracts.base import (
    ContractBase,
)
from agentstore.errors import (
    BackendUnavailable,
    StoreError,
)
from agentstore.store import Store
from agentstore.types import (
    AgentId,
    SessionId,
)


class StoreContract(ContractBase):
    """The store's lifetime, whatever capabilities the driver declares."""

    capability: ClassVar[CapabilityName | None] = None

    def test_use_after_close_raises(self) -> None:
        store = self.open_store()
        uses: dict[str, Callable[[], object]] = {
            "generation": lambda: store.generation("g"),
            "log": lambda: store.log("s", writer="w"),
            "logs": store.logs,
            "policies": lambda: store.policies,
            "audit": lambda: store.audit,
            "sessions": lambda: store.sessions,
            "credentials": lambda: store.credentials,
            "rate_limits": lambda: store.rate_limits,
            "lifecycle": lambda: store.lifecycle,
        }
        for use in uses.values():
            use()
        store.close()
        for name, use in uses.items():
            with pytest.raises(StoreError, match="store is closed"):
                use()
                pytest.fail(f"store.{name} worked on a closed store")
        store.close()  # closing again is harmless

    def test_handles_obtained_before_close_refuse_after_it(self) -> None:
        store = self.open_store()
        caps = self.spec.capabilities
        agent = AgentId.new()
        calls: dict[str, Callable[[], object]] = {}
        if "generations" in caps:
            generation = store.generation("g")
            calls["Generation.bump"] = generation.bump
            calls["Generation.current"] = generation.current
        if "logs" in caps:
            log = store.log("s", writer="w")
            log.append(b"before")
            calls["WriterLog.append"] = lambda: log.append(b"after")
            calls["WriterLog.entries"] = lambda: list(log.entries())
            calls["WriterLog.head"] = log.head
            calls["WriterLog.verify"] = log.verify
        if "policies" in caps:
            policies = store.policies
            calls["PolicyStore.get"] = lambda: policies.get(agent)
        if "audit" in caps:
            audit = store.audit
            calls["AuditSink.verify"] = audit.verify
        if "sessions" in caps:
            sessions = store.sessions
            calls["SessionStore.load"] = lambda: sessions.load(SessionId.new())
            calls["SessionStore.delete"] = lambda: sessions.delete(SessionId.new())
        if "credentials" in caps:
            credentials = store.credentials
            calls["CredentialStore.get_secret"] = lambda: credentials.get_secret("k")
        if "rate_limits" in caps:
            limits = store.rate_limits
            calls["RateLimitCounter.increment"] = lambda: limits.increment("k", 1, 60.0)
        if "lifecycle" in caps:
            lifecycle = store.lifecycle
            calls["LifecycleStore.register"] = lambda: lifecycle.register(agent)
        store.close()
        for name, call in calls.items():
            with pytest.raises(StoreError, match="closed"):
                call()
                pytest.fail(f"{name} worked after the store was closed")

    def _open_existing(self, **flags: Any) -> Store:
        store = agentstore.open(self.policy, registry=self.registry, clock=self.clock, **flags)
        self._stores.append(store)
        return store

    def test_open_without_create_on_missing_storage_creates_nothing(self) -> None:
        # A persistent driver's fresh storage holds no store yet: opening it with
        # create=False, or read_only=True, raises BackendUnavailable (StoreNotFound) and
        # creates nothing, so asking again is refused again.
        if not self.support.persistent:
            # Every open starts a new private store: nothing to refuse, nothing left.
            for flags in ({"create": False}, {"read_only": True}):
                assert self._open_existing(**flags).logs() == []
            return
        for flags in ({"create": False}, {"read_only": True}, {"create": False}):
            with pytest.raises(BackendUnavailable):
                self._open_existing(**flags)
                pytest.fail(f"agentstore.open(..., {flags}) opened storage holding no store")
        # A store agentstore made is found by both, even left empty.
        self.open_store().close()
        for flags in ({"create": False}, {"read_only": True}):
            store = self._open_existing(**flags)
            assert store.logs() == []
            store.close()


__all__ = [
    "StoreContract",
]
