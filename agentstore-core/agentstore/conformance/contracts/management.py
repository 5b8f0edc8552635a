"""The contracts of managing the governance stores: listings, session TTLs, pruning.

One class per capability, beside the capability's own contract class. These operations
came after the first release: a driver that raises
:class:`~agentstore.errors.Unsupported` for one has its tests skipped, saying so.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

import pytest

from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.base import THREADS, ContractBase, run_threads
from agentstore.conformance.support import EPOCH
from agentstore.errors import InvalidInput, NotFound, Unsupported
from agentstore.types import AgentId, AgentInfo, PolicyDocument, SessionId, SessionRecord

T = TypeVar("T")

MANY: int = 520
"""Keys the paging tests store: more than one page of every first-party driver."""

BAD_TTLS: tuple[object, ...] = (0, -1, float("nan"), float("inf"), "10", True)


class ManagementBase(ContractBase):
    """Skips a test whose operation the driver does not support (Unsupported)."""

    @contextlib.contextmanager
    def supported(self) -> Iterator[None]:
        """Skip the test, saying why, when the block raises Unsupported."""
        try:
            yield
        except Unsupported as exc:
            pytest.skip(f"driver {self.spec.name!r}: {exc}")

    def listed(self, listing: Callable[[], Iterator[T]]) -> list[T]:
        """Everything ``listing()`` yields; the test skips if the driver cannot list."""
        with self.supported():
            items = listing()
        assert iter(items) is items, "a listing is an iterator, read lazily"
        return list(items)


class PolicyListingContract(ManagementBase):
    """policies.agent_ids(): every agent with a policy, sorted, resumable, streamed."""

    capability: ClassVar[CapabilityName | None] = "policies"

    def test_policy_agent_ids_are_sorted_and_resume_after(self) -> None:
        policies = self.open_store().policies
        assert self.listed(policies.agent_ids) == []
        agents = [AgentId.new() for _ in range(7)]
        for n, agent in enumerate(agents):
            policies.put(agent, PolicyDocument({"n": n}))
        policies.put(agents[0], PolicyDocument({"n": 99}))  # overwritten: listed once
        expected = sorted(agents)
        assert self.listed(policies.agent_ids) == expected
        assert self.listed(lambda: policies.agent_ids(after=expected[2])) == expected[3:]
        assert self.listed(lambda: policies.agent_ids(after=expected[-1])) == []
        policies.invalidate(expected[4])
        assert self.listed(policies.agent_ids) == expected[:4] + expected[5:]

    def test_policy_agent_ids_stream_past_a_page(self) -> None:
        policies = self.open_store().policies
        agents = sorted(AgentId.new() for _ in range(MANY))
        for agent in agents:
            policies.put(agent, PolicyDocument())
        assert self.listed(policies.agent_ids) == agents
        middle = agents[MANY // 2]
        assert self.listed(lambda: policies.agent_ids(after=middle)) == agents[MANY // 2 + 1 :]

    @pytest.mark.parametrize("bad", ["agent", SessionId.new(), 7])
    def test_policy_agent_ids_rejects_bad_after(self, bad: object) -> None:
        policies = self.open_store().policies
        with pytest.raises(InvalidInput):
            policies.agent_ids(after=bad)  # type: ignore[arg-type]


class SessionManagementContract(ManagementBase):
    """sessions.ids() lists unexpired sessions; save(ttl_secs=) expires on the store's clock."""

    capability: ClassVar[CapabilityName | None] = "sessions"

    def test_session_ids_are_sorted_and_resume_after(self) -> None:
        sessions = self.open_store().sessions
        assert self.listed(sessions.ids) == []
        records = [SessionRecord(SessionId.new(), AgentId.new(), {"n": n}) for n in range(7)]
        for record in records:
            sessions.save(record)
        expected = sorted(r.session_id for r in records)
        assert self.listed(sessions.ids) == expected
        assert self.listed(lambda: sessions.ids(after=expected[2])) == expected[3:]
        sessions.delete(expected[0])
        assert self.listed(sessions.ids) == expected[1:]

    def test_session_ids_stream_past_a_page_without_the_expired(self) -> None:
        sessions = self.open_store().sessions
        ids = sorted(SessionId.new() for _ in range(MANY))
        agent = AgentId.new()
        with self.supported():
            for n, sid in enumerate(ids):
                # Every third expires; the listing must skip them across page boundaries.
                sessions.save(SessionRecord(sid, agent), ttl_secs=10 if n % 3 == 0 else None)
        assert self.listed(sessions.ids) == ids
        self.clock.advance(10)
        kept = [sid for n, sid in enumerate(ids) if n % 3]
        assert self.listed(sessions.ids) == kept
        assert self.listed(lambda: sessions.ids(after=ids[0])) == kept

    def test_session_ttl_expires_load_and_ids(self) -> None:
        sessions = self.open_store().sessions
        record = SessionRecord(SessionId.new(), AgentId.new(), {"turn": 1})
        keep = SessionRecord(SessionId.new(), AgentId.new())
        sessions.save(keep)
        with self.supported():
            sessions.save(record, ttl_secs=10)
        self.clock.advance(9.5)
        assert sessions.load(record.session_id) == record
        assert record.session_id in self.listed(sessions.ids)
        self.clock.advance(0.5)  # exactly ttl_secs later: expired
        with pytest.raises(NotFound) as info:
            sessions.load(record.session_id)
        assert str(record.session_id) in str(info.value)
        assert self.listed(sessions.ids) == [keep.session_id]
        assert sessions.load(keep.session_id) == keep
        sessions.delete(record.session_id)  # deleting an expired record is not an error

    def test_session_save_again_replaces_the_expiry(self) -> None:
        sessions = self.open_store().sessions
        sid, agent = SessionId.new(), AgentId.new()
        with self.supported():
            sessions.save(SessionRecord(sid, agent, {"v": 1}), ttl_secs=5)
        sessions.save(SessionRecord(sid, agent, {"v": 2}))  # no TTL: never expires
        self.clock.advance(1000)
        assert sessions.load(sid) == SessionRecord(sid, agent, {"v": 2})
        sessions.save(SessionRecord(sid, agent, {"v": 3}), ttl_secs=5)
        sessions.save(SessionRecord(sid, agent, {"v": 4}), ttl_secs=100)
        self.clock.advance(50)
        assert sessions.load(sid) == SessionRecord(sid, agent, {"v": 4})
        self.clock.advance(50)
        with pytest.raises(NotFound):
            sessions.load(sid)
        sessions.save(SessionRecord(sid, agent, {"v": 5}), ttl_secs=1)  # expired: saved anew
        assert sessions.load(sid) == SessionRecord(sid, agent, {"v": 5})

    def test_session_purge_expired_removes_only_the_expired(self) -> None:
        sessions = self.open_store().sessions
        agent = AgentId.new()
        expiring = [SessionRecord(SessionId.new(), agent, {"n": n}) for n in range(3)]
        lasting = [SessionRecord(SessionId.new(), agent, {"n": n}) for n in range(2)]
        with self.supported():
            for record in expiring:
                sessions.save(record, ttl_secs=10)
            assert sessions.purge_expired() == 0
        later = SessionRecord(SessionId.new(), agent)
        sessions.save(later, ttl_secs=20)
        for record in lasting:
            sessions.save(record)
        self.clock.advance(10)
        assert sessions.purge_expired() == 3
        assert sessions.purge_expired() == 0
        for record in [*lasting, later]:
            assert sessions.load(record.session_id) == record
        assert self.listed(sessions.ids) == sorted(r.session_id for r in [*lasting, later])

    @pytest.mark.parametrize("ttl", BAD_TTLS)
    def test_session_save_rejects_bad_ttl(self, ttl: object) -> None:
        sessions = self.open_store().sessions
        record = SessionRecord(SessionId.new(), AgentId.new())
        with pytest.raises(InvalidInput):
            sessions.save(record, ttl_secs=ttl)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            sessions.load(record.session_id)

    @pytest.mark.parametrize("bad", ["session", AgentId.new(), 7])
    def test_session_ids_rejects_bad_after(self, bad: object) -> None:
        sessions = self.open_store().sessions
        with pytest.raises(InvalidInput):
            sessions.ids(after=bad)  # type: ignore[arg-type]

    def test_session_purge_concurrent_with_saves_keeps_every_save(self) -> None:
        sessions = self.open_store().sessions
        agent = AgentId.new()
        records = [SessionRecord(SessionId.new(), agent, {"n": n}) for n in range(THREADS * 8)]
        with self.supported():
            for record in records:
                sessions.save(record, ttl_secs=1)
        self.clock.advance(1)  # every record has expired
        renewed = [SessionRecord(r.session_id, agent, {"renewed": True}) for r in records]
        groups = [renewed[i::THREADS] for i in range(THREADS)]
        purged: list[int] = []

        def work(i: int) -> None:
            if i == 0:
                purged.append(sessions.purge_expired())
                return
            for record in groups[i]:
                sessions.save(record)

        with self.supported():
            run_threads(THREADS, work)
        for i in range(1, THREADS):  # every save made during the purge survives it
            for record in groups[i]:
                assert sessions.load(record.session_id) == record
        assert 0 <= purged[0] <= len(records)

    def test_session_ttl_persists_across_reopen(self) -> None:
        self.require_persistent()
        record = SessionRecord(SessionId.new(), AgentId.new(), {"v": 1})
        first = self.open_store()
        with self.supported():
            first.sessions.save(record, ttl_secs=10)
        first.close()
        again = self.open_store()
        self.clock.advance(5)
        assert again.sessions.load(record.session_id) == record
        self.clock.advance(5)
        with pytest.raises(NotFound):
            again.sessions.load(record.session_id)


class CredentialListingContract(ManagementBase):
    """credentials.names(): every secret's name, never a value, sorted by code point."""

    capability: ClassVar[CapabilityName | None] = "credentials"

    SECRET: ClassVar[bytes] = b"s3cr3t-listing-\x00\xff"

    def test_credential_names_are_sorted_and_never_values(self) -> None:
        creds = self.open_store().credentials
        assert self.listed(creds.names) == []
        names = ["z", "Z", "a b", "ü-key", "名前", "a", "a\u0301", "api/key:1", "~"]
        for name in names:
            creds.put_secret(name, self.SECRET + name.encode())
        creds.put_secret("a", self.SECRET)  # overwritten: listed once
        listed = self.listed(creds.names)
        assert listed == sorted(names)
        assert all(type(n) is str for n in listed)
        shown = " ".join(listed) + repr(listed)
        assert "s3cr3t" not in shown
        assert self.listed(lambda: creds.names(after="a")) == sorted(names)[2:]
        assert self.listed(lambda: creds.names(after="b")) == [n for n in sorted(names) if n > "b"]
        creds.delete_secret("Z")
        assert self.listed(creds.names) == sorted(n for n in names if n != "Z")

    def test_credential_names_stream_past_a_page(self) -> None:
        creds = self.open_store().credentials
        names = sorted(f"key-{n:04d}" for n in range(MANY))
        for name in reversed(names):
            creds.put_secret(name, b"v")
        assert self.listed(creds.names) == names
        assert self.listed(lambda: creds.names(after=names[300])) == names[301:]

    @pytest.mark.parametrize("bad", ["", 7, "a\x00b", "\udfff", SessionId.new()])
    def test_credential_names_rejects_bad_after(self, bad: object) -> None:
        creds = self.open_store().credentials
        with pytest.raises(InvalidInput):
            creds.names(after=bad)  # type: ignore[arg-type]


class LifecycleManagementContract(ManagementBase):
    """lifecycle.agents() lists every registered agent; prune(ttl) deregisters the stale."""

    capability: ClassVar[CapabilityName | None] = "lifecycle"

    def test_lifecycle_agents_lists_every_registered_agent(self) -> None:
        lc = self.open_store().lifecycle
        assert self.listed(lc.agents) == []
        agents = [AgentId.new() for _ in range(6)]
        for agent in agents:
            lc.register(agent)
        self.clock.advance(100)
        lc.heartbeat(agents[0])
        expected = sorted(
            AgentInfo(a, EPOCH, EPOCH + 100 if a == agents[0] else EPOCH) for a in agents
        )
        assert self.listed(lc.agents) == expected  # stale agents are listed too
        first = expected[1].agent_id
        assert self.listed(lambda: lc.agents(after=first)) == expected[2:]
        lc.deregister(agents[0])
        assert [i.agent_id for i in self.listed(lc.agents)] == sorted(agents[1:])

    def test_lifecycle_agents_stream_past_a_page(self) -> None:
        lc = self.open_store().lifecycle
        agents = sorted(AgentId.new() for _ in range(MANY))
        for agent in agents:
            lc.register(agent)
        assert [i.agent_id for i in self.listed(lc.agents)] == agents
        after = agents[MANY - 3]
        assert [i.agent_id for i in self.listed(lambda: lc.agents(after=after))] == agents[-2:]

    def test_lifecycle_prune_removes_agents_not_seen_within_ttl(self) -> None:
        lc = self.open_store().lifecycle
        kept, stale = AgentId.new(), [AgentId.new() for _ in range(3)]
        for agent in [kept, *stale]:
            lc.register(agent)
        self.clock.advance(100)
        lc.heartbeat(kept)
        self.clock.advance(30)
        with self.supported():
            assert lc.prune(30) == 3  # `kept` is exactly 30 s old: live, so kept
        assert lc.prune(30) == 0
        assert lc.live(1000) == [kept]
        for agent in stale:
            with pytest.raises(NotFound):
                lc.info(agent)
            with pytest.raises(NotFound):
                lc.heartbeat(agent)
        assert lc.info(kept) == AgentInfo(kept, EPOCH, EPOCH + 100)
        lc.register(stale[0])  # a pruned agent may register again
        assert lc.live(1) == [stale[0]]

    @pytest.mark.parametrize("ttl", BAD_TTLS)
    def test_lifecycle_prune_rejects_bad_ttl(self, ttl: object) -> None:
        lc = self.open_store().lifecycle
        agent = AgentId.new()
        lc.register(agent)
        self.clock.advance(100)
        with pytest.raises(InvalidInput):
            lc.prune(ttl)  # type: ignore[arg-type]
        assert lc.info(agent).agent_id == agent

    @pytest.mark.parametrize("bad", ["agent", SessionId.new(), 7])
    def test_lifecycle_agents_rejects_bad_after(self, bad: object) -> None:
        lc = self.open_store().lifecycle
        with pytest.raises(InvalidInput):
            lc.agents(after=bad)  # type: ignore[arg-type]

    def test_lifecycle_prune_concurrent_with_heartbeats_keeps_the_live(self) -> None:
        lc = self.open_store().lifecycle
        agents = [AgentId.new() for _ in range(THREADS * 8)]
        for agent in agents:
            lc.register(agent)
        self.clock.advance(100)  # every agent is stale until its heartbeat
        groups = [agents[i::THREADS] for i in range(THREADS)]
        beaten: list[AgentId] = []
        lock = threading.Lock()
        pruned: list[int] = []

        def work(i: int) -> None:
            if i == 0:
                pruned.append(lc.prune(50))
                return
            for agent in groups[i]:
                try:
                    lc.heartbeat(agent)
                except NotFound:
                    continue  # pruned first: its heartbeat is refused, not lost
                with lock:
                    beaten.append(agent)

        with self.supported():
            run_threads(THREADS, work)
        left = {i.agent_id for i in self.listed(lc.agents)}
        assert set(beaten) <= left  # a heartbeat that succeeded is never pruned after it
        assert len(agents) - len(left) == pruned[0]
        assert set(groups[0]).isdisjoint(left)  # never heartbeated: pruned


__all__ = [
    "CredentialListingContract",
    "LifecycleManagementContract",
    "ManagementBase",
    "PolicyListingContract",
    "SessionManagementContract",
]
