"""The contracts of tenant namespaces: ``store.tenant(name)`` confines every capability.

Named capabilities (generations, logs and the feed, credentials, rate limits, the audit
chain) are confined by the core for every driver. Sessions, policies and agents need the
driver's ``_scoped`` hook, which came after the first release: a driver that raises
:class:`~agentstore.errors.Unsupported` for it has those tests skipped, saying so.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.aio import AsyncContractBase
from agentstore.conformance.contracts.base import THREADS, run_threads
from agentstore.conformance.contracts.management import ManagementBase
from agentstore.errors import InvalidInput, NotFound
from agentstore.types import AgentId, AuditEntry, PolicyDocument, SessionId, SessionRecord

HOSTILE_NAMES: tuple[str, ...] = (
    "x",
    "x:y",
    ":",
    "agentstore:t:beta:x",
    "t:beta:x",
    "../beta/x",
    "beta:x",
    "\u0430cme",  # a Cyrillic a
    "X",
    " x",
    "%",
    "\x1f",
)
"""Names a tenant may use that look like another tenant's or the store's own."""

BAD_TENANTS: tuple[object, ...] = (
    "",
    "Acme",
    "ACME",
    "acme ",
    "-acme",
    "acme-",
    "ac:me",
    "ac/me",
    "ac.me",
    "\u0430cme",
    "\uff41\uff43\uff4d\uff45",  # full-width
    "acme\u200b",
    "a" * 64,
    None,
    7,
    b"acme",
)


class TenancyBase(ManagementBase):
    def require_capability(self, capability: CapabilityName) -> None:
        """Skip unless the driver under test also serves ``capability``."""
        if self.policy.driver_for(capability) != self.spec.name:
            pytest.skip(f"the policy does not route {capability!r} to {self.spec.name!r}")
        if capability not in self.spec.capabilities:
            pytest.skip(f"driver {self.spec.name!r} does not declare {capability!r}")


class TenantNamesContract(TenancyBase):
    """Tenant names are strict; the views of two tenants never share a named thing."""

    capability: ClassVar[CapabilityName | None] = "logs"

    @pytest.mark.parametrize("bad", BAD_TENANTS, ids=repr)
    def test_tenant_refuses_names_that_could_alias(self, bad: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.tenant(bad)  # type: ignore[arg-type]
        assert store.logs() == []

    def test_tenant_views_nest_no_further(self) -> None:
        acme = self.open_store().tenant("acme")
        with pytest.raises(InvalidInput):
            acme.tenant("beta")

    def test_tenant_streams_are_confined_whatever_their_names(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        streams = [n for n in HOSTILE_NAMES if not n.startswith("agentstore:")]
        for n, name in enumerate(streams):
            acme.log(name, "w").append(b"acme %d" % n)
        assert acme.logs() == sorted((name, "w") for name in streams)
        assert beta.logs() == []
        assert store.tenant("acme-x").logs() == []
        assert not any(s in streams for s, _ in store.logs()), "root sees stored names"
        for name in streams:
            assert beta.log(name, "w").head() is None
            assert store.tenant("acme").log(name, "w").verify() == 1
        beta.log("x", "w").append(b"beta")
        assert [e.payload for e in acme.log("x", "w").entries()] == [b"acme 0"]
        assert [e.payload for e in beta.log("x", "w").entries()] == [b"beta"]
        with pytest.raises(InvalidInput):
            acme.log("agentstore:audit", "w")  # reserved in a tenant as in the store

    def test_tenant_generations_count_apart_under_threads(self) -> None:
        self.require_capability("generations")
        store = self.open_store()
        tenants = [store.tenant(name) for name in ("acme", "beta")]

        def bump(i: int) -> None:
            for _ in range(10):
                tenants[i % 2].generation("g").bump()

        run_threads(THREADS, bump)
        per_tenant = THREADS // 2 * 10
        assert [t.generation("g").current() for t in tenants] == [per_tenant, per_tenant]
        assert store.generation("g").current() == 0
        assert store.tenant("gamma").generation("g").current() == 0


class TenantFeedContract(TenancyBase):
    """A tenant's feed, stream views and doorbell carry only its own commits."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_tenant_feed_and_stream_hold_only_its_entries(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        acme.log("s", "a").append(b"1")
        beta.log("s", "a").append(b"2")
        store.log("s", "a").append(b"3")
        acme.log("s", "b").append_many([b"4", b"5"])
        with self.supported():
            events = list(acme.feed())
        assert [(e.stream, e.writer, e.seq) for e in events] == [
            ("s", "a", 1),
            ("s", "b", 1),
            ("s", "b", 2),
        ]
        assert [e.stream for e in beta.feed()] == ["s"]
        assert len(list(store.feed())) == 5
        assert list(acme.feed(after=events[0].position, limit=1)) == events[1:2]
        assert [e.payload for e in acme.stream("s").entries()] == [b"1", b"4", b"5"]
        assert [e.payload for e in beta.stream("s").entries()] == [b"2"]
        assert acme.position() >= events[-1].position

    def test_tenant_doorbell_rings_only_for_its_commits(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        heard: list[tuple[str, str]] = []
        everything: list[str] = []
        acme.doorbell.subscribe(lambda e: heard.append((e.stream, e.writer)))
        store.doorbell.subscribe(lambda e: everything.append(e.stream))
        acme.log("s", "a").append(b"1")
        beta.log("s", "a").append(b"2")
        store.log("s", "a").append(b"3")
        assert heard == [("s", "a")]
        assert len(everything) == 3 and everything.count("s") == 1

    def test_tenant_follow_sees_only_its_commits(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        beta.log("s", "w").append(b"b")
        acme.log("s", "w").append(b"a")
        with self.supported():
            events = list(acme.follow(timeout=0.2))
        assert [(e.stream, e.seq) for e in events] == [("s", 1)]


class TenantAuditContract(TenancyBase):
    """A tenant has its own audit chain; its redactions are recorded there."""

    capability: ClassVar[CapabilityName | None] = "audit"

    def test_tenant_audit_chain_is_its_own(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        acme.audit.emit(AuditEntry("acme.did"))
        acme.audit.emit(AuditEntry("acme.did.more"))
        beta.audit.emit(AuditEntry("beta.did"))
        assert [r.entry.action for r in acme.audit.records()] == ["acme.did", "acme.did.more"]
        assert [r.entry.action for r in beta.audit.records()] == ["beta.did"]
        assert list(store.audit.records()) == []
        assert acme.audit.verify() == 2
        assert beta.audit.verify() == 1

    def test_tenant_redaction_is_recorded_on_its_audit_chain(self) -> None:
        self.require_capability("logs")
        store = self.open_store()
        acme = store.tenant("acme")
        log = acme.log("s", "w")
        log.append(b"secret")
        with self.supported():
            log.redact(1, reason="erasure request")
        assert [r.entry.action for r in acme.audit.records()] == ["redact"]
        assert list(store.tenant("beta").audit.records()) == []
        assert log.verify() == 1


class TenantCredentialContract(TenancyBase):
    capability: ClassVar[CapabilityName | None] = "credentials"

    def test_tenant_secrets_are_confined(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        for n, name in enumerate(HOSTILE_NAMES):
            acme.credentials.put_secret(name, b"acme %d" % n)
        beta.credentials.put_secret("x", b"beta")
        store.credentials.put_secret("x", b"root")
        assert acme.credentials.get_secret("x") == b"acme 0"
        assert beta.credentials.get_secret("x") == b"beta"
        assert store.credentials.get_secret("x") == b"root"
        with self.supported():
            assert list(acme.credentials.names()) == sorted(HOSTILE_NAMES)
        assert list(beta.credentials.names()) == ["x"]
        assert list(store.tenant("acme-x").credentials.names()) == []
        for name in HOSTILE_NAMES[1:]:
            with pytest.raises(NotFound):
                beta.credentials.get_secret(name)
        beta.credentials.delete_secret("x")
        assert acme.credentials.get_secret("x") == b"acme 0"
        assert store.credentials.get_secret("x") == b"root"
        listed = list(acme.credentials.names(after="x"))
        assert listed == [n for n in sorted(HOSTILE_NAMES) if n > "x"]


class TenantRateLimitContract(TenancyBase):
    capability: ClassVar[CapabilityName | None] = "rate_limits"

    @pytest.mark.parametrize("strategy", ["fixed", "sliding"])
    def test_tenant_rate_limits_count_apart(self, strategy: str) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        with self.supported():
            assert acme.rate_limits.hit("k", 2, 60, strategy=strategy).allowed  # type: ignore[arg-type]
        assert acme.rate_limits.hit("k", 2, 60, strategy=strategy).allowed  # type: ignore[arg-type]
        assert not acme.rate_limits.hit("k", 2, 60, strategy=strategy).allowed  # type: ignore[arg-type]
        assert beta.rate_limits.hit("k", 2, 60, strategy=strategy).remaining == 1  # type: ignore[arg-type]
        assert store.rate_limits.hit("k", 2, 60, strategy=strategy).remaining == 1  # type: ignore[arg-type]
        acme.rate_limits.reset("k")
        assert beta.rate_limits.window_stats("k", 2, 60, strategy=strategy).remaining == 1  # type: ignore[arg-type]

    def test_tenant_increments_count_apart(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        assert acme.rate_limits.increment("k", 5) == 5
        assert beta.rate_limits.increment("k") == 1
        assert store.rate_limits.current("k") == 0
        assert acme.rate_limits.current("k") == 5


class TenantSessionContract(TenancyBase):
    capability: ClassVar[CapabilityName | None] = "sessions"

    def test_tenant_sessions_are_confined(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        shared, own = SessionId.new(), SessionId.new()
        agent = AgentId.new()
        with self.supported():
            acme.sessions.save(SessionRecord(shared, agent, {"t": "acme"}))
        acme.sessions.save(SessionRecord(own, agent, {"t": "acme"}), ttl_secs=10)
        beta.sessions.save(SessionRecord(shared, agent, {"t": "beta"}))
        store.sessions.save(SessionRecord(shared, agent, {"t": "root"}))
        assert acme.sessions.load(shared).data == {"t": "acme"}
        assert beta.sessions.load(shared).data == {"t": "beta"}
        assert store.sessions.load(shared).data == {"t": "root"}
        with pytest.raises(NotFound):
            beta.sessions.load(own)
        with pytest.raises(NotFound):
            store.sessions.load(own)
        assert list(acme.sessions.ids()) == sorted([shared, own])
        assert list(beta.sessions.ids()) == [shared]
        assert list(store.sessions.ids()) == [shared]
        self.clock.advance(11)
        assert beta.sessions.purge_expired() == 0
        assert store.sessions.purge_expired() == 0
        assert acme.sessions.purge_expired() == 1
        beta.sessions.delete(shared)
        assert acme.sessions.load(shared).data == {"t": "acme"}
        assert store.sessions.load(shared).data == {"t": "root"}
        again = self.open_store().tenant("acme") if self.support.persistent else acme
        assert list(again.sessions.ids()) == [shared]


class TenantPolicyContract(TenancyBase):
    capability: ClassVar[CapabilityName | None] = "policies"

    def test_tenant_policies_are_confined(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        agent, other = AgentId.new(), AgentId.new()
        with self.supported():
            acme.policies.put(agent, PolicyDocument({"t": "acme"}))
        acme.policies.put(other, PolicyDocument({"t": "acme"}))
        beta.policies.put(agent, PolicyDocument({"t": "beta"}))
        assert acme.policies.get(agent).body == {"t": "acme"}
        assert beta.policies.get(agent).body == {"t": "beta"}
        with pytest.raises(NotFound):
            store.policies.get(agent)
        with pytest.raises(NotFound):
            beta.policies.get(other)
        assert list(acme.policies.agent_ids()) == sorted([agent, other])
        assert list(beta.policies.agent_ids()) == [agent]
        assert list(store.policies.agent_ids()) == []
        beta.policies.invalidate(agent)
        assert acme.policies.get(agent).body == {"t": "acme"}


class TenantLifecycleContract(TenancyBase):
    capability: ClassVar[CapabilityName | None] = "lifecycle"

    def test_tenant_agents_are_confined(self) -> None:
        store = self.open_store()
        acme, beta = store.tenant("acme"), store.tenant("beta")
        agent, old = AgentId.new(), AgentId.new()
        with self.supported():
            acme.lifecycle.register(old)
        store.lifecycle.register(old)
        self.clock.advance(100)
        acme.lifecycle.register(agent)
        beta.lifecycle.register(agent)
        assert acme.lifecycle.live(50) == [agent]
        assert beta.lifecycle.live(50) == [agent]
        assert store.lifecycle.live(50) == []
        with pytest.raises(NotFound):
            beta.lifecycle.info(old)
        assert [i.agent_id for i in acme.lifecycle.agents()] == sorted([agent, old])
        assert [i.agent_id for i in beta.lifecycle.agents()] == [agent]
        assert beta.lifecycle.prune(50) == 0
        assert store.lifecycle.prune(50) == 1  # the root's own old agent only
        assert acme.lifecycle.prune(50) == 1
        assert [i.agent_id for i in acme.lifecycle.agents()] == [agent]
        beta.lifecycle.deregister(agent)
        assert acme.lifecycle.info(agent).agent_id == agent


class AsyncTenancyContract(AsyncContractBase, ManagementBase):
    """``astore.tenant(name)`` confines as the synchronous view does."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_aio_tenant_logs_feed_and_credentials_are_confined(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                acme, beta = store.tenant("acme"), store.tenant("beta")
                await acme.log("s", "w").append(b"a")
                await beta.log("s", "w").append(b"b")
                assert await acme.logs() == [("s", "w")]
                assert [e.payload async for e in acme.log("s", "w").entries()] == [b"a"]
                with self.supported():
                    assert [e.stream async for e in acme.feed()] == ["s"]
                assert len([e async for e in store.feed()]) == 2
                if "credentials" in store.routes:
                    await acme.credentials.put_secret("k", b"acme")
                    with pytest.raises(NotFound):
                        await beta.credentials.get_secret("k")
                with pytest.raises(InvalidInput):
                    store.tenant("Acme")
                await acme.aclose()
                assert acme.closed and not store.closed
                assert [e.payload async for e in beta.log("s", "w").entries()] == [b"b"]
            finally:
                await store.aclose()
            assert beta.closed

        self.run(main)


__all__ = [
    "BAD_TENANTS",
    "HOSTILE_NAMES",
    "AsyncTenancyContract",
    "TenancyBase",
    "TenantAuditContract",
    "TenantCredentialContract",
    "TenantFeedContract",
    "TenantLifecycleContract",
    "TenantNamesContract",
    "TenantPolicyContract",
    "TenantRateLimitContract",
    "TenantSessionContract",
]
