"""Tenant namespaces (``store.tenant(name)``) on the SQL drivers, sqlite and postgres.

Through the public API only, except where a test says it reads the stored rows: a tenant's
policies, sessions and agents live in the root store's tables under keys
``agentstore:t:<tenant>:<uuid>`` (see ``agentstore.sql.scopes``), so the tests check both
directions of isolation (tenant against tenant, tenant against root), that maintenance
(purge, prune) stays in its own namespace, and that the data outlives the view and the
store that wrote it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import agentstore
import pytest
from agentstore import (
    AgentId,
    InvalidInput,
    NotFound,
    PolicyDocument,
    SessionId,
    SessionRecord,
    Store,
    StorePolicy,
)

URL_ENV = "AGENTSTORE_TEST_POSTGRES_URL"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Opener = Callable[..., Store]
"""Opens a new store on the test's one database: ``opener(clock=None, **settings)``."""


def _postgres_policy(schema: str) -> StorePolicy:
    if not os.environ.get(URL_ENV):
        if os.environ.get("AGENTSTORE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{URL_ENV} is required but unset", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {URL_ENV} is unset")
    return StorePolicy(
        "postgres", sections={"postgres": {"url": {"env": URL_ENV}, "schema": schema}}
    )


def _drop_schema(schema: str) -> None:
    url = os.environ.get(URL_ENV)
    if not url:
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[Store] = []
    schema = f"agentstore_tenants_{uuid.uuid4().hex[:12]}"

    def open_store(clock: FakeClock | None = None, **settings: object) -> Store:
        if request.param == "sqlite":
            section = {"path": str(tmp_path / "tenants.db"), **settings}
            policy = StorePolicy("sqlite", sections={"sqlite": section})
        else:
            policy = _postgres_policy(schema)
        store = agentstore.open(policy, clock=clock)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()
    if request.param == "postgres":
        _drop_schema(schema)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(opener: Opener, clock: FakeClock) -> Store:
    return opener(clock)


def doc(n: int) -> PolicyDocument:
    return PolicyDocument({"n": n})


# -- policies ------------------------------------------------------------------------------


def test_policies_of_one_uuid_are_separate_per_tenant_and_root(store: Store) -> None:
    root, acme, beta = store, store.tenant("acme"), store.tenant("beta")
    shared = AgentId.new()
    for i, view in enumerate((root, acme, beta)):
        view.policies.put(shared, doc(i))
    assert [v.policies.get(shared) for v in (root, acme, beta)] == [doc(0), doc(1), doc(2)]

    only_acme = AgentId.new()
    acme.policies.put(only_acme, doc(9))
    for other in (root, beta):
        with pytest.raises(NotFound):
            other.policies.get(only_acme)
    assert list(acme.policies.agent_ids()) == sorted([shared, only_acme])
    assert list(beta.policies.agent_ids()) == [shared]
    assert list(root.policies.agent_ids()) == [shared]

    acme.policies.invalidate(shared)
    with pytest.raises(NotFound):
        acme.policies.get(shared)
    assert beta.policies.get(shared) == doc(2)
    assert root.policies.get(shared) == doc(0)
    beta.policies.invalidate(only_acme)  # another tenant's id: touches nothing
    assert acme.policies.get(only_acme) == doc(9)


def test_a_tenant_listing_resumes_after_an_id_and_stays_in_its_range(store: Store) -> None:
    # "acme-2" and "acm" make keys that start close to acme's: none may show up in its list.
    views = {name: store.tenant(name) for name in ("acm", "acme", "acme-2", "acmf")}
    ids = {name: sorted(AgentId.new() for _ in range(4)) for name in views}
    for name, view in views.items():
        for agent in ids[name]:
            view.policies.put(agent, doc(1))
    root_ids = sorted(AgentId.new() for _ in range(3))
    for agent in root_ids:
        store.policies.put(agent, doc(0))
    for name, view in views.items():
        assert list(view.policies.agent_ids()) == ids[name]
        assert list(view.policies.agent_ids(after=ids[name][1])) == ids[name][2:]
    assert list(store.policies.agent_ids()) == root_ids
    assert list(store.policies.agent_ids(after=root_ids[0])) == root_ids[1:]


# -- sessions ------------------------------------------------------------------------------


def test_sessions_are_separate_per_tenant_and_root(store: Store) -> None:
    root, acme, beta = store, store.tenant("acme"), store.tenant("beta")
    sid, agent = SessionId.new(), AgentId.new()
    for i, view in enumerate((root, acme, beta)):
        view.sessions.save(SessionRecord(sid, agent, {"who": i}))
    assert [v.sessions.load(sid).data for v in (root, acme, beta)] == [
        {"who": 0},
        {"who": 1},
        {"who": 2},
    ]
    assert acme.sessions.load(sid).agent_id == agent  # stored in acme's space, read back plain

    only_beta = SessionId.new()
    beta.sessions.save(SessionRecord(only_beta, agent, {}))
    for other in (root, acme):
        with pytest.raises(NotFound):
            other.sessions.load(only_beta)
    assert list(beta.sessions.ids()) == sorted([sid, only_beta])
    assert list(acme.sessions.ids()) == [sid]
    assert list(root.sessions.ids()) == [sid]

    beta.sessions.delete(sid)
    with pytest.raises(NotFound):
        beta.sessions.load(sid)
    assert acme.sessions.load(sid).data == {"who": 1}
    assert root.sessions.load(sid).data == {"who": 0}


def test_purging_expired_sessions_stays_in_its_namespace(store: Store, clock: FakeClock) -> None:
    root, acme, beta = store, store.tenant("acme"), store.tenant("beta")
    agent = AgentId.new()
    expiring = {}
    for view in (root, acme, beta):
        sid = expiring[id(view)] = SessionId.new()
        view.sessions.save(SessionRecord(sid, agent, {}), ttl_secs=10)
        view.sessions.save(SessionRecord(SessionId.new(), agent, {"keep": True}))
    clock.now += 11
    for view in (root, acme, beta):
        assert expiring[id(view)] not in list(view.sessions.ids())
    assert acme.sessions.purge_expired() == 1
    assert acme.sessions.purge_expired() == 0
    assert root.sessions.purge_expired() == 1  # root's own: beta's expired row stays
    assert beta.sessions.purge_expired() == 1
    for view in (root, acme, beta):
        assert len(list(view.sessions.ids())) == 1


def test_a_tenant_session_row_holds_nothing_readable_as_a_root_key(store: Store) -> None:
    """Reads the stored rows: a tenant's session keeps its namespace in both key columns."""
    sid, agent = SessionId.new(), AgentId.new()
    store.tenant("acme").sessions.save(SessionRecord(sid, agent, {}))
    backend = store.sessions._backend  # type: ignore[attr-defined]
    rows = backend.query("SELECT session_id, agent_id FROM agentstore_sessions")
    assert rows == [(f"agentstore:t:acme:{sid}", f"agentstore:t:acme:{agent}")]


# -- lifecycle -----------------------------------------------------------------------------


def test_agents_are_separate_per_tenant_and_root(store: Store, clock: FakeClock) -> None:
    root, acme, beta = store, store.tenant("acme"), store.tenant("beta")
    shared = AgentId.new()
    for view in (root, acme, beta):
        view.lifecycle.register(shared)
        clock.now += 1
    assert [v.lifecycle.info(shared).registered_at for v in (root, acme, beta)] == [
        1_000_000.0,
        1_000_001.0,
        1_000_002.0,
    ]
    only_acme = AgentId.new()
    acme.lifecycle.register(only_acme)
    for other in (root, beta):
        with pytest.raises(NotFound):
            other.lifecycle.info(only_acme)
        with pytest.raises(NotFound):
            other.lifecycle.heartbeat(only_acme)
    assert [i.agent_id for i in acme.lifecycle.agents()] == sorted([shared, only_acme])
    assert [i.agent_id for i in beta.lifecycle.agents()] == [shared]
    assert [i.agent_id for i in root.lifecycle.agents()] == [shared]
    assert acme.lifecycle.live(60) == sorted([shared, only_acme])
    assert root.lifecycle.live(60) == [shared]

    beta.lifecycle.deregister(shared)
    with pytest.raises(NotFound):
        beta.lifecycle.info(shared)
    acme.lifecycle.heartbeat(shared)
    root.lifecycle.info(shared)


def test_pruning_stays_in_its_namespace(store: Store, clock: FakeClock) -> None:
    root, acme, beta = store, store.tenant("acme"), store.tenant("beta")
    old = {id(v): AgentId.new() for v in (root, acme, beta)}
    for view in (root, acme, beta):
        view.lifecycle.register(old[id(view)])
    clock.now += 100
    fresh = AgentId.new()
    for view in (root, acme, beta):
        view.lifecycle.register(fresh)
    assert acme.lifecycle.prune(50) == 1
    assert [i.agent_id for i in acme.lifecycle.agents()] == [fresh]
    assert root.lifecycle.prune(50) == 1  # root's own: beta's stale agent stays
    assert sorted(i.agent_id for i in beta.lifecycle.agents()) == sorted([old[id(beta)], fresh])
    assert beta.lifecycle.live(50) == [fresh]
    assert beta.lifecycle.prune(50) == 1
    assert [i.agent_id for i in root.lifecycle.agents()] == [fresh]


# -- persistence ---------------------------------------------------------------------------


def test_a_tenant_finds_its_data_in_another_view_and_after_reopening(opener: Opener) -> None:
    first = opener()
    agent, sid = AgentId.new(), SessionId.new()
    acme = first.tenant("acme")
    acme.policies.put(agent, doc(1))
    acme.sessions.save(SessionRecord(sid, agent, {"k": "v"}))
    acme.lifecycle.register(agent)
    acme.close()
    again = first.tenant("acme")
    assert again.policies.get(agent) == doc(1)
    first.close()

    second = opener()
    acme = second.tenant("acme")
    assert acme.policies.get(agent) == doc(1)
    assert acme.sessions.load(sid).data == {"k": "v"}
    assert acme.lifecycle.info(agent).agent_id == agent
    assert list(acme.sessions.ids()) == [sid]
    with pytest.raises(NotFound):
        second.tenant("beta").policies.get(agent)
    with pytest.raises(NotFound):
        second.policies.get(agent)


def test_root_rows_written_before_tenants_stay_listed_by_the_root(opener: Opener) -> None:
    before = opener()
    agents = sorted(AgentId.new() for _ in range(5))
    sessions = sorted(SessionId.new() for _ in range(5))
    for agent, sid in zip(agents, sessions, strict=True):
        before.policies.put(agent, doc(0))
        before.sessions.save(SessionRecord(sid, agent, {}))
        before.lifecycle.register(agent)
    before.close()

    after = opener()
    for name in ("acme", "beta"):
        tenant = after.tenant(name)
        for _ in range(5):
            a = AgentId.new()
            tenant.policies.put(a, doc(1))
            tenant.sessions.save(SessionRecord(SessionId.new(), a, {}))
            tenant.lifecycle.register(a)
    assert list(after.policies.agent_ids()) == agents
    assert list(after.sessions.ids()) == sessions
    assert [i.agent_id for i in after.lifecycle.agents()] == agents
    assert after.lifecycle.live(60) == agents
    assert after.sessions.load(sessions[0]).agent_id == agents[0]


# -- the named capabilities through a tenant view ------------------------------------------


def test_logs_feed_and_streams_of_a_tenant(store: Store) -> None:
    acme, beta = store.tenant("acme"), store.tenant("beta")
    mine = acme.log("orders", "w").append(b"a1")
    beta.log("orders", "w").append(b"b1")
    store.log("orders", "w").append(b"r1")
    acme.log("orders", "w").append(b"a2")

    assert [e.payload for e in acme.log("orders", "w").entries()] == [b"a1", b"a2"]
    assert [e.payload for e in beta.log("orders", "w").entries()] == [b"b1"]
    assert [e.payload for e in store.log("orders", "w").entries()] == [b"r1"]
    assert acme.logs() == [("orders", "w")]
    assert acme.log("orders", "w").verify() == 2
    events = list(acme.feed())
    assert [(e.stream, e.seq) for e in events] == [("orders", 1), ("orders", 2)]
    assert events[0].position == mine.position
    assert [e.payload for e in acme.stream("orders").entries()] == [b"a1", b"a2"]
    assert [e.stream for e in store.feed()].count("agentstore:t:acme:orders") == 2


def test_a_tenant_lists_its_logs_without_reading_the_others(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tenants on either side of acme's prefix in name order ("acme-x", "acmf"), the root's
    # and another tenant's many logs: acme's listing seeks to its own and stops after them.
    for tenant in ("acme-x", "acmf", "beta"):
        view = store.tenant(tenant)
        for i in range(10):
            view.log(f"s{i}", "w").append(b"x")
    for i in range(10):
        store.log(f"zz{i}", "w").append(b"x")
    acme = store.tenant("acme")
    acme.log("b", "w2").append(b"x")
    acme.log("a", "w1").append(b"x")
    acme.log("b", "w1").append(b"x")

    logs = store._cap("logs")
    seeks: list[tuple[str, str]] = []
    next_log = logs._next_log

    def counted(stream: str, writer: str) -> object:
        seeks.append((stream, writer))
        return next_log(stream, writer)

    monkeypatch.setattr(logs, "_next_log", counted)
    assert acme.logs() == [("a", "w1"), ("b", "w1"), ("b", "w2")]
    assert len(seeks) == 4, seeks  # three logs and the one past them
    assert store.tenant("acm").logs() == []
    assert [w for _, w in store.tenant("acme-x").logs()] == ["w"] * 10


def test_credentials_and_rate_limits_of_a_tenant(store: Store, clock: FakeClock) -> None:
    acme, beta = store.tenant("acme"), store.tenant("beta")
    acme.credentials.put_secret("api", b"acme-secret")
    store.credentials.put_secret("api", b"root-secret")
    assert acme.credentials.get_secret("api") == b"acme-secret"
    with pytest.raises(NotFound):
        beta.credentials.get_secret("api")
    assert list(acme.credentials.names()) == ["api"]
    assert list(beta.credentials.names()) == []
    assert store.credentials.get_secret("api") == b"root-secret"
    acme.credentials.delete_secret("api")
    assert store.credentials.get_secret("api") == b"root-secret"

    assert acme.rate_limits.increment("calls", 3) == 3
    assert beta.rate_limits.increment("calls") == 1
    assert store.rate_limits.current("calls") == 0
    assert acme.rate_limits.hit("calls", limit=4, window_secs=60).allowed
    assert not acme.rate_limits.hit("calls", limit=4, window_secs=60).allowed
    assert beta.rate_limits.hit("calls", limit=4, window_secs=60, strategy="sliding").allowed
    acme.rate_limits.reset("calls")
    assert acme.rate_limits.current("calls") == 0
    assert beta.rate_limits.current("calls") == 1


def test_a_tenant_store_opens_no_tenant_and_a_bad_name_is_refused(store: Store) -> None:
    acme = store.tenant("acme")
    for stores in (acme.policies, acme.sessions, acme.lifecycle):
        with pytest.raises(InvalidInput, match="tenant 'acme' cannot open tenant 'beta'"):
            stores._scoped("beta")  # type: ignore[attr-defined]
    for root in (store.policies, store.sessions, store.lifecycle):
        with pytest.raises(InvalidInput, match="tenant name"):
            root._scoped("acme:x")  # would reach into acme's keys
