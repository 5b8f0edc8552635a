"""Managing the governance stores through the async face: listings, TTLs, pruning.

A driver that raises :class:`~agentstore.errors.Unsupported` for an operation has its
test skipped, saying so, as in :mod:`agentstore.conformance.contracts.management`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar, TypeVar

import pytest

from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.aio import AsyncContractBase
from agentstore.conformance.contracts.management import MANY, ManagementBase
from agentstore.conformance.support import EPOCH
from agentstore.errors import InvalidInput, NotFound
from agentstore.types import AgentId, AgentInfo, PolicyDocument, SessionId, SessionRecord

T = TypeVar("T")


async def _all(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


class AsyncPolicyListingContract(AsyncContractBase, ManagementBase):
    capability: ClassVar[CapabilityName | None] = "policies"

    def test_aio_policies_agent_ids_sorted_and_resumed(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                policies = store.policies
                agents = sorted(AgentId.new() for _ in range(5))
                for agent in agents:
                    await policies.put(agent, PolicyDocument({"a": str(agent)}))
                with self.supported():
                    assert await _all(policies.agent_ids()) == agents
                assert await _all(policies.agent_ids(after=agents[1])) == agents[2:]
                with pytest.raises(InvalidInput):
                    policies.agent_ids(after="agent")  # type: ignore[arg-type]
            finally:
                await store.aclose()

        self.run(main)


class AsyncSessionManagementContract(AsyncContractBase, ManagementBase):
    capability: ClassVar[CapabilityName | None] = "sessions"

    def test_aio_sessions_ttl_ids_and_purge(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                sessions = store.sessions
                agent = AgentId.new()
                ids = sorted(SessionId.new() for _ in range(MANY))
                with self.supported():
                    for n, sid in enumerate(ids):
                        ttl = 10.0 if n % 2 else None
                        await sessions.save(SessionRecord(sid, agent, {"n": n}), ttl_secs=ttl)
                assert await _all(sessions.ids()) == ids  # more than a page
                self.clock.advance(10)
                kept = ids[::2]
                with pytest.raises(NotFound):
                    await sessions.load(ids[1])
                assert await sessions.load(ids[0]) == SessionRecord(ids[0], agent, {"n": 0})
                assert await _all(sessions.ids()) == kept
                assert await _all(sessions.ids(after=kept[-2])) == kept[-1:]
                assert await sessions.purge_expired() == MANY // 2
                assert await sessions.purge_expired() == 0
                with pytest.raises(InvalidInput):
                    await sessions.save(SessionRecord(ids[0], agent), ttl_secs=0)
                with pytest.raises(InvalidInput):
                    sessions.ids(after=agent)  # type: ignore[arg-type]
            finally:
                await store.aclose()

        self.run(main)


class AsyncCredentialListingContract(AsyncContractBase, ManagementBase):
    capability: ClassVar[CapabilityName | None] = "credentials"

    def test_aio_credentials_names_never_values(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                creds = store.credentials
                names = ["b", "a", "ü", "A"]
                for name in names:
                    await creds.put_secret(name, b"s3cr3t-" + name.encode())
                with self.supported():
                    listed = await _all(creds.names())
                assert listed == sorted(names)
                assert "s3cr3t" not in repr(listed)
                assert await _all(creds.names(after="a")) == ["b", "ü"]
                with pytest.raises(InvalidInput):
                    creds.names(after="")
            finally:
                await store.aclose()

        self.run(main)


class AsyncLifecycleManagementContract(AsyncContractBase, ManagementBase):
    capability: ClassVar[CapabilityName | None] = "lifecycle"

    def test_aio_lifecycle_agents_and_prune(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                life = store.lifecycle
                agents = sorted(AgentId.new() for _ in range(4))
                for agent in agents:
                    await life.register(agent)
                self.clock.advance(60)
                await life.heartbeat(agents[0])
                with self.supported():
                    listed = await _all(life.agents())
                assert [i.agent_id for i in listed] == agents
                assert listed[0] == AgentInfo(agents[0], EPOCH, EPOCH + 60)
                assert [i.agent_id for i in await _all(life.agents(after=agents[2]))] == agents[3:]
                assert await life.prune(30) == 3
                assert await _all(life.agents()) == [AgentInfo(agents[0], EPOCH, EPOCH + 60)]
                with pytest.raises(InvalidInput):
                    await life.prune(-1)
            finally:
                await store.aclose()

        self.run(main)


__all__ = [
    "AsyncCredentialListingContract",
    "AsyncLifecycleManagementContract",
    "AsyncPolicyListingContract",
    "AsyncSessionManagementContract",
]
