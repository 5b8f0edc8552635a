"""Tenant views (``store.tenant(name)``) on the key-value substrate, through its two example
drivers: agentstore-redis (the real server) and agentstore-tiny (a SQLite file).

Policies, sessions and agents of a tenant live in the substrate's tenant scope
(``_scoped``); the named capabilities are the facade's. Every test runs on both drivers
and looks only through the public API, in every direction: the root store, tenant
``acme`` and tenant ``acme-b`` (whose name starts with ``acme``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import agentstore
import pytest
from agentstore import (
    AgentId,
    AuditEntry,
    NotFound,
    PolicyDocument,
    SessionId,
    SessionRecord,
    Store,
    StorePolicy,
)
from agentstore.conformance import EPOCH, FakeClock

TENANTS = ("acme", "acme-b")


@pytest.fixture(params=["redis", "tiny"])
def policy(request: pytest.FixtureRequest, tmp_path: Path) -> StorePolicy:
    if request.param == "redis":
        found: StorePolicy = request.getfixturevalue("redis_policy")
        return found
    return StorePolicy("tiny", sections={"tiny": {"path": str(tmp_path / "tiny.db")}})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(policy: StorePolicy, clock: FakeClock) -> Iterator[Store]:
    with agentstore.open(policy, clock=clock) as opened:
        yield opened


def scopes(store: Store) -> list[Store]:
    """The root store, then a view of each of :data:`TENANTS`."""
    return [store, *(store.tenant(t) for t in TENANTS)]


def test_one_agent_id_holds_a_policy_of_its_own_in_each_tenant(store: Store) -> None:
    agent = AgentId.new()
    for i, scope in enumerate(scopes(store)):
        scope.policies.put(agent, PolicyDocument({"owner": i}))
    for i, scope in enumerate(scopes(store)):
        assert scope.policies.get(agent).body == {"owner": i}
        assert list(scope.policies.agent_ids()) == [agent]
    store.tenant("acme").policies.invalidate(agent)
    with pytest.raises(NotFound):
        store.tenant("acme").policies.get(agent)
    assert store.policies.get(agent).body == {"owner": 0}
    assert store.tenant("acme-b").policies.get(agent).body == {"owner": 2}


def test_a_policy_is_found_only_where_it_was_put(store: Store) -> None:
    owned = {i: AgentId.new() for i in range(3)}
    for i, scope in enumerate(scopes(store)):
        scope.policies.put(owned[i], PolicyDocument({"owner": i}))
    for i, scope in enumerate(scopes(store)):
        assert list(scope.policies.agent_ids()) == [owned[i]]
        for j, agent in owned.items():
            if j != i:
                with pytest.raises(NotFound):
                    scope.policies.get(agent)
                scope.policies.invalidate(agent)  # removes nothing of another's
    for i, scope in enumerate(scopes(store)):
        assert scope.policies.get(owned[i]).body == {"owner": i}


def test_sessions_are_confined_to_their_tenant(store: Store) -> None:
    shared, agent = SessionId.new(), AgentId.new()
    own = {i: SessionId.new() for i in range(3)}
    for i, scope in enumerate(scopes(store)):
        scope.sessions.save(SessionRecord(shared, agent, {"owner": i}))
        scope.sessions.save(SessionRecord(own[i], agent, {"own": i}))
    for i, scope in enumerate(scopes(store)):
        assert scope.sessions.load(shared).data == {"owner": i}
        assert scope.sessions.load(own[i]).data == {"own": i}
        assert list(scope.sessions.ids()) == sorted([shared, own[i]])
        for j, other in own.items():
            if j != i:
                with pytest.raises(NotFound):
                    scope.sessions.load(other)
    store.tenant("acme-b").sessions.delete(shared)
    with pytest.raises(NotFound):
        store.tenant("acme-b").sessions.load(shared)
    assert store.sessions.load(shared).data == {"owner": 0}
    assert store.tenant("acme").sessions.load(shared).data == {"owner": 1}


def test_agents_are_confined_to_their_tenant(store: Store, clock: FakeClock) -> None:
    shared = AgentId.new()
    own = {i: AgentId.new() for i in range(3)}
    for i, scope in enumerate(scopes(store)):
        clock.advance(1)
        scope.lifecycle.register(shared)
        scope.lifecycle.register(own[i])
    for i, scope in enumerate(scopes(store)):
        assert scope.lifecycle.info(shared).registered_at == EPOCH + 1 + i
        assert [a.agent_id for a in scope.lifecycle.agents()] == sorted([shared, own[i]])
        for j, other in own.items():
            if j != i:
                with pytest.raises(NotFound):
                    scope.lifecycle.info(other)
                with pytest.raises(NotFound):
                    scope.lifecycle.heartbeat(other)  # brings back nothing of another's
                scope.lifecycle.deregister(other)
    store.tenant("acme").lifecycle.deregister(shared)
    with pytest.raises(NotFound):
        store.tenant("acme").lifecycle.info(shared)
    assert store.lifecycle.info(shared).agent_id == shared
    assert store.tenant("acme-b").lifecycle.info(shared).agent_id == shared
    for i, scope in enumerate(scopes(store)):
        assert scope.lifecycle.info(own[i]).agent_id == own[i]


def test_purge_expired_reaches_only_its_own_tenant(store: Store, clock: FakeClock) -> None:
    agent = AgentId.new()
    expiring = {i: SessionId.new() for i in range(3)}
    for i, scope in enumerate(scopes(store)):
        scope.sessions.save(SessionRecord(expiring[i], agent, {}), ttl_secs=10)
    clock.advance(11)
    # Each purge deletes its own expired record and none of the others' (still there to purge).
    assert store.tenant("acme").sessions.purge_expired() == 1
    assert store.sessions.purge_expired() == 1
    assert store.tenant("acme-b").sessions.purge_expired() == 1
    assert [scope.sessions.purge_expired() for scope in scopes(store)] == [0, 0, 0]


def test_live_and_prune_reach_only_their_own_tenant(store: Store, clock: FakeClock) -> None:
    agents = {i: AgentId.new() for i in range(3)}
    for i, scope in enumerate(scopes(store)):
        scope.lifecycle.register(agents[i])
    clock.advance(100)
    store.tenant("acme").lifecycle.heartbeat(agents[1])  # only acme's agent stays live
    assert [scope.lifecycle.live(10) for scope in scopes(store)] == [[], [agents[1]], []]
    assert store.tenant("acme").lifecycle.prune(10) == 0
    assert store.tenant("acme-b").lifecycle.prune(10) == 1
    assert store.lifecycle.info(agents[0]).agent_id == agents[0]  # not pruned by acme-b
    assert store.lifecycle.prune(10) == 1
    assert store.tenant("acme").lifecycle.info(agents[1]).agent_id == agents[1]
    assert [list(scope.lifecycle.agents()) != [] for scope in scopes(store)] == [
        False,
        True,
        False,
    ]


def test_listings_of_a_tenant_are_sorted_and_resume_after_a_key(store: Store) -> None:
    agent = AgentId.new()
    mine_agents = sorted(AgentId.new() for _ in range(40))  # more than a scan's page
    mine_sessions = sorted(SessionId.new() for _ in range(40))
    acme = store.tenant("acme")
    for a in mine_agents:
        acme.policies.put(a, PolicyDocument({}))
        acme.lifecycle.register(a)
    for s in mine_sessions:
        acme.sessions.save(SessionRecord(s, agent, {}))
    for other in (store, store.tenant("acme-b")):  # ids interleaved with acme's
        for _ in range(10):
            a, s = AgentId.new(), SessionId.new()
            other.policies.put(a, PolicyDocument({}))
            other.lifecycle.register(a)
            other.sessions.save(SessionRecord(s, agent, {}))
    assert list(acme.policies.agent_ids()) == mine_agents
    assert [i.agent_id for i in acme.lifecycle.agents()] == mine_agents
    assert list(acme.sessions.ids()) == mine_sessions
    assert list(acme.policies.agent_ids(after=mine_agents[20])) == mine_agents[21:]
    assert [i.agent_id for i in acme.lifecycle.agents(after=mine_agents[5])] == mine_agents[6:]
    assert list(acme.sessions.ids(after=mine_sessions[38])) == mine_sessions[39:]
    assert list(acme.sessions.ids(after=mine_sessions[39])) == []
    assert len(list(store.policies.agent_ids())) == 10
    assert len(list(store.tenant("acme-b").sessions.ids())) == 10


def test_a_tenant_s_records_outlive_the_store_that_wrote_them(policy: StorePolicy) -> None:
    agent, session = AgentId.new(), SessionId.new()
    with agentstore.open(policy) as store:
        acme = store.tenant("acme")
        acme.policies.put(agent, PolicyDocument({"tenant": "acme"}))
        acme.sessions.save(SessionRecord(session, agent, {"n": 1}))
        acme.lifecycle.register(agent)
        store.policies.put(agent, PolicyDocument({"tenant": None}))
    with agentstore.open(policy, create=False) as store:
        acme = store.tenant("acme")
        assert acme.policies.get(agent).body == {"tenant": "acme"}
        assert acme.sessions.load(session).data == {"n": 1}
        assert acme.lifecycle.info(agent).agent_id == agent
        assert store.policies.get(agent).body == {"tenant": None}
        with pytest.raises(NotFound):
            store.sessions.load(session)
        with pytest.raises(NotFound):
            store.tenant("acme-b").policies.get(agent)
        assert list(store.lifecycle.agents()) == []


def test_the_named_capabilities_work_through_a_tenant_view(store: Store) -> None:
    acme, other = store.tenant("acme"), store.tenant("acme-b")
    other.log("chat", writer="w").append(b"theirs")
    entries = acme.log("chat", writer="w").append_many([b"a", b"b"])
    assert [e.stream for e in entries] == ["chat", "chat"]
    assert [e.payload for e in acme.stream("chat").entries()] == [b"a", b"b"]
    assert [e.payload for e in other.stream("chat").entries()] == [b"theirs"]
    assert [(e.stream, e.position) for e in acme.feed()] == [("chat", 2), ("chat", 3)]
    assert [e.stream for e in store.feed()] == ["agentstore:t:acme-b:chat"] + [
        "agentstore:t:acme:chat"
    ] * 2
    assert acme.logs() == [("chat", "w")]
    assert acme.log("chat", writer="w").verify() == 2

    record = acme.audit.emit(AuditEntry("policy.update", AgentId.new()))
    assert [r.seq for r in acme.audit.records()] == [record.seq]
    assert list(other.audit.records()) == []

    acme.credentials.put_secret("api", b"acme-secret")
    other.credentials.put_secret("api", b"other-secret")
    assert acme.credentials.get_secret("api") == b"acme-secret"
    assert list(acme.credentials.names()) == ["api"]
    with pytest.raises(NotFound):
        store.credentials.get_secret("api")

    assert acme.rate_limits.hit("calls", 2, 60).allowed
    assert acme.rate_limits.hit("calls", 2, 60).allowed
    assert not acme.rate_limits.hit("calls", 2, 60).allowed
    assert other.rate_limits.hit("calls", 2, 60, strategy="sliding").allowed
    assert store.rate_limits.current("calls") == 0

    assert acme.generation("epoch").bump() == 1
    assert acme.generation("epoch").bump() == 2
    assert other.generation("epoch").current() == 0
    assert store.generation("agentstore:t:acme:epoch").current() == 2
