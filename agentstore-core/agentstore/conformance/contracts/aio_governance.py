"""The governance stores' contract through the async face, one class per capability."""

from __future__ import annotations

from typing import ClassVar

import pytest

import agentstore.aio
from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.aio import AsyncContractBase
from agentstore.errors import ChainBroken, InvalidInput, NotFound, StoreError
from agentstore.types import AgentId, AuditEntry, PolicyDocument, SessionId, SessionRecord


class AsyncPolicyStoreContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "policies"

    def test_aio_policies_put_get_invalidate(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                agent = AgentId.new()
                with pytest.raises(NotFound):
                    await store.policies.get(agent)
                doc = PolicyDocument({"allow": ["read"]})
                await store.policies.put(agent, doc)
                assert await store.policies.get(agent) == doc
                await store.policies.invalidate(agent)
                await store.policies.invalidate(agent)
                with pytest.raises(NotFound):
                    await store.policies.get(agent)
                with pytest.raises(InvalidInput):
                    await store.policies.put("agent", doc)  # type: ignore[arg-type]

        self.run(main)


class AsyncAuditSinkContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "audit"

    def test_aio_audit_emit_records_verify(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                emitted = [
                    await store.audit.emit(AuditEntry(f"action-{i}", detail={"n": i}))
                    for i in range(5)
                ]
                assert [r.seq for r in emitted] == [1, 2, 3, 4, 5]
                assert [r async for r in store.audit.records()] == emitted
                assert [r.seq async for r in store.audit.records(after=3)] == [4, 5]
                assert await store.audit.verify() == 5
                with pytest.raises(InvalidInput):
                    store.audit.records(after=-1)
                with pytest.raises(InvalidInput):
                    await store.audit.emit("not an entry")  # type: ignore[arg-type]

        self.run(main)

    def test_aio_audit_verify_reports_tampering(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                for i in range(3):
                    await store.audit.emit(AuditEntry(f"action-{i}"))
                self.tamper(store.sync, "agentstore:audit", "audit", 2, None)
                if self._refused:
                    assert await store.audit.verify() == 3
                    return
                with pytest.raises(ChainBroken):
                    await store.audit.verify()

        self.run(main)


class AsyncSessionStoreContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "sessions"

    def test_aio_sessions_save_load_delete(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                record = SessionRecord(SessionId.new(), AgentId.new(), {"turn": 1})
                with pytest.raises(NotFound):
                    await store.sessions.load(record.session_id)
                await store.sessions.save(record)
                assert await store.sessions.load(record.session_id) == record
                newer = SessionRecord(record.session_id, record.agent_id, {"turn": 2})
                await store.sessions.save(newer)
                assert await store.sessions.load(record.session_id) == newer
                await store.sessions.delete(record.session_id)
                await store.sessions.delete(record.session_id)
                with pytest.raises(NotFound):
                    await store.sessions.load(record.session_id)

        self.run(main)


class AsyncCredentialStoreContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "credentials"

    def test_aio_credentials_put_get_delete_never_show_the_value(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                secret = b"s3cr3t-value-xyz"
                await store.credentials.put_secret("api", secret)
                assert await store.credentials.get_secret("api") == secret
                assert "s3cr3t" not in repr(store.credentials)
                await store.credentials.delete_secret("api")
                await store.credentials.delete_secret("api")
                with pytest.raises(NotFound) as info:
                    await store.credentials.get_secret("api")
                assert "s3cr3t" not in str(info.value)
                with pytest.raises(InvalidInput) as bad:
                    await store.credentials.put_secret("api", "s3cr3t-text")  # type: ignore[arg-type]
                assert "s3cr3t" not in str(bad.value)

        self.run(main)


class AsyncRateLimitContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "rate_limits"

    def test_aio_rate_limits_count_in_windows(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                limits = store.rate_limits
                totals = [await limits.increment("tool", 1, 10.0) for _ in range(3)]
                assert totals == [1, 2, 3]
                assert await limits.increment("tool", amount=2, window_secs=10.0) == 5
                assert await limits.current("tool") == 5
                self.clock.advance(10)
                assert await limits.current("tool") == 0
                assert await limits.increment("tool") == 1
                await limits.reset("tool")
                assert await limits.current("tool") == 0
                with pytest.raises(InvalidInput):
                    await limits.increment("tool", 0)
            finally:
                await store.aclose()

        self.run(main)


class AsyncLifecycleContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "lifecycle"

    def test_aio_lifecycle_register_heartbeat_live(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                life = store.lifecycle
                agent, other = AgentId.new(), AgentId.new()
                with pytest.raises(NotFound):
                    await life.heartbeat(agent)
                await life.register(agent)
                await life.register(other)
                self.clock.advance(30)
                await life.heartbeat(agent)
                assert await life.live(10) == [agent]
                assert (await life.info(agent)).last_heartbeat == self.clock()
                await life.deregister(agent)
                await life.deregister(agent)
                with pytest.raises(NotFound):
                    await life.info(agent)
                assert await life.live(60) == [other]
            finally:
                await store.aclose()

        self.run(main)


class AsyncStoreContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = None

    def test_aio_open_awaited_and_closed_refuses_use(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            assert not store.closed
            await store.aclose()
            assert store.closed
            uses = {
                "generation": lambda: store.generation("g"),
                "log": lambda: store.log("s", writer="w"),
                "policies": lambda: store.policies,
                "audit": lambda: store.audit,
                "sessions": lambda: store.sessions,
                "credentials": lambda: store.credentials,
                "rate_limits": lambda: store.rate_limits,
                "lifecycle": lambda: store.lifecycle,
            }
            for name, use in uses.items():
                with pytest.raises(StoreError, match="closed"):
                    use()
                    pytest.fail(f"store.{name} worked on a closed store")
            await store.aclose()

        self.run(main)


__all__ = [
    "AsyncAuditSinkContract",
    "AsyncCredentialStoreContract",
    "AsyncLifecycleContract",
    "AsyncPolicyStoreContract",
    "AsyncRateLimitContract",
    "AsyncSessionStoreContract",
    "AsyncStoreContract",
]
