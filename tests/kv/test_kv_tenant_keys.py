"""Where the substrate keeps a tenant's policies, sessions and agents: under the tenant's
scope, while the root store's keys stay as a store written before tenants laid them out.
(The behaviour through ``store.tenant`` on real drivers: tests/examples/test_kv_tenants.py.)"""

from __future__ import annotations

import itertools

from agentstore import AgentId, PolicyDocument, SessionId, SessionRecord
from agentstore.conformance import FakeClock
from agentstore.driver import OpenContext
from agentstore.kv import (
    KvLifecycleStore,
    KvPolicyStore,
    KvSessionStore,
    MemoryKeyValue,
    keys,
    open_kv_stores,
)

GOVERNANCE = frozenset({"policies", "sessions", "lifecycle"})
NAMES = ["a", "a-b", "ab", "a0", "b", "acme", "acme-b", "x" * 63]


def governance(kv: MemoryKeyValue) -> tuple[KvPolicyStore, KvSessionStore, KvLifecycleStore]:
    stores = open_kv_stores(kv, OpenContext(GOVERNANCE, clock=FakeClock()), location="here")
    assert isinstance(stores.policies, KvPolicyStore)
    assert isinstance(stores.sessions, KvSessionStore)
    assert isinstance(stores.lifecycle, KvLifecycleStore)
    return stores.policies, stores.sessions, stores.lifecycle


def stored_keys(kv: MemoryKeyValue) -> set[bytes]:
    return {k for k, _ in kv.scan(b"", b"\xff", 1_000_000)} - {keys.VERSION_KEY}


def test_no_tenant_scope_is_a_prefix_of_another_or_of_a_root_key() -> None:
    scopes = [keys.tenant_scope(n) for n in NAMES]
    for a, b in itertools.permutations(scopes, 2):
        assert not b.startswith(a)
    root_spaces = [keys.POLICY, keys.SESSION, keys.AGENT, keys.CREDENTIAL, keys.GENERATION]
    root_spaces += [keys.ENTRY, keys.HEAD, keys.FEED, keys.STREAM, keys.POSITION, keys.VERSION_KEY]
    assert keys.TENANT not in root_spaces
    assert all(s.startswith(keys.TENANT) for s in scopes)


def test_the_root_keys_are_laid_out_as_before_and_a_tenant_s_under_its_scope() -> None:
    kv = MemoryKeyValue()
    policies, sessions, lifecycle = governance(kv)
    agent, session = AgentId.new(), SessionId.new()
    policies.put(agent, PolicyDocument({}))
    sessions.save(SessionRecord(session, agent, {}))
    lifecycle.register(agent)
    root = {keys.POLICY + agent.to_bytes(), keys.SESSION + session.to_bytes()}
    root.add(keys.AGENT + agent.to_bytes())
    assert stored_keys(kv) == root
    policies._scoped("acme").put(agent, PolicyDocument({}))
    sessions._scoped("acme").save(SessionRecord(session, agent, {}))
    lifecycle._scoped("acme").register(agent)
    scope = keys.TENANT + b"acme\x00"
    assert stored_keys(kv) - root == {
        scope + keys.POLICY + agent.to_bytes(),
        scope + keys.SESSION + session.to_bytes(),
        scope + keys.AGENT + agent.to_bytes(),
    }


def test_records_a_store_wrote_before_tenants_are_the_root_s_and_no_tenant_s() -> None:
    kv = MemoryKeyValue()
    agent, session = AgentId.new(), SessionId.new()
    kv.commit(
        {},
        {
            keys.VERSION_KEY: keys.FORMAT,
            keys.POLICY + agent.to_bytes(): b'{"old": true}',
            keys.SESSION + session.to_bytes(): keys.pack_session(agent.to_bytes(), b"{}", None),
            keys.AGENT + agent.to_bytes(): keys.pack_times(1.0, 2.0),
        },
    )
    policies, sessions, lifecycle = governance(kv)
    assert policies.get(agent).body == {"old": True}
    assert list(sessions.ids()) == [session]
    assert lifecycle.info(agent).last_heartbeat == 2.0
    assert list(policies._scoped("acme").agent_ids()) == []
    assert list(sessions._scoped("acme").ids()) == []
    assert list(lifecycle._scoped("acme").agents()) == []


def test_a_scope_within_a_scope_is_disjoint_from_both() -> None:
    policies = governance(MemoryKeyValue())[0]
    outer, inner = policies._scoped("acme"), policies._scoped("acme")._scoped("b")
    agents = [AgentId.new() for _ in range(3)]
    for store, agent in zip([policies, outer, inner], agents, strict=True):
        store.put(agent, PolicyDocument({}))
    assert [list(s.agent_ids()) for s in (policies, outer, inner)] == [[a] for a in agents]
    assert list(policies._scoped("acme").agent_ids()) == [agents[1]]  # same tenant, same data
