"""Tenant rows on PostgreSQL: the native asyncio face's root listings and maintenance never
reach them, and a tenant's namespace holds exactly its keys under a locale collation too.

(Isolation through ``store.tenant`` on both SQL drivers: tests/sql/test_sql_tenants.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import agentstore
import agentstore.aio
import psycopg
import pytest
from agentstore import AgentId, PolicyDocument, SessionId, SessionRecord, StorePolicy
from agentstore.sql.scopes import KeySpace, outside_tenants
from agentstore_postgres.aio_governance import (
    PgAsyncLifecycleStore,
    PgAsyncPolicyStore,
    PgAsyncSessionStore,
)


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_native_async_root_lists_and_maintains_only_root_rows(pg_policy: StorePolicy) -> None:
    clock = FakeClock()
    root_agent, root_session = AgentId.new(), SessionId.new()
    tenant_agents = {name: AgentId.new() for name in ("acme", "beta")}
    with agentstore.open(pg_policy, clock=clock) as store:
        store.policies.put(root_agent, PolicyDocument({}))
        store.sessions.save(SessionRecord(root_session, root_agent, {}), ttl_secs=10)
        store.lifecycle.register(root_agent)
        for name, agent in tenant_agents.items():
            tenant = store.tenant(name)
            tenant.policies.put(agent, PolicyDocument({}))
            tenant.sessions.save(SessionRecord(SessionId.new(), agent, {}), ttl_secs=10)
            tenant.lifecycle.register(agent)

    async def main() -> None:
        async with agentstore.aio.open(pg_policy, clock=clock) as aio:
            assert isinstance(aio.policies, PgAsyncPolicyStore)  # the native face, no thread
            assert isinstance(aio.sessions, PgAsyncSessionStore)
            assert isinstance(aio.lifecycle, PgAsyncLifecycleStore)
            assert [a async for a in aio.policies.agent_ids()] == [root_agent]
            assert [s async for s in aio.sessions.ids()] == [root_session]
            assert [i.agent_id async for i in aio.lifecycle.agents()] == [root_agent]
            assert await aio.lifecycle.live(60) == [root_agent]
            clock.now += 100
            assert await aio.sessions.purge_expired() == 1  # the root's: no tenant's
            assert await aio.lifecycle.prune(50) == 1

    asyncio.run(main())
    with agentstore.open(pg_policy, clock=clock) as store:
        for name, agent in tenant_agents.items():
            tenant = store.tenant(name)
            assert [i.agent_id for i in tenant.lifecycle.agents()] == [agent]
            assert tenant.sessions.purge_expired() == 1
            assert tenant.lifecycle.prune(50) == 1


@pytest.fixture
def icu_table(pg_conn: psycopg.Connection[Any], pg_schema: str) -> str:
    """A key column sorting by an ICU English locale, where ':' and ';' do not sort by
    code point (a database created with such a locale sorts its TEXT columns so)."""
    found = pg_conn.execute("SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu'").fetchall()
    assert found, "the test server has no ICU collation en-x-icu"
    pg_conn.execute(f"CREATE SCHEMA {pg_schema}")
    table = f"{pg_schema}.keys"
    pg_conn.execute(f'CREATE TABLE {table} (k TEXT COLLATE "en-x-icu" PRIMARY KEY)')
    return table


def test_a_tenant_condition_is_exact_under_a_locale_collation(
    pg_conn: psycopg.Connection[Any], icu_table: str
) -> None:
    tenants = ("acm", "acme", "acme-2", "acme2", "acmf", "b")
    keys = {t: sorted(str(AgentId.new()) for _ in range(6)) for t in tenants}
    stored = [KeySpace(t).key(k) for t in tenants for k in keys[t]]
    root = sorted(str(AgentId.new()) for _ in range(6))
    with pg_conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {icu_table} (k) VALUES (%s)", [(k,) for k in stored + root])
    # The code-point range SQLite uses would lose rows here: the reason PostgreSQL does not.
    row = pg_conn.execute(
        f"SELECT count(*) FROM {icu_table} WHERE k >= %s AND k < %s",
        KeySpace("acme", by_range=True).params(),
    ).fetchone()
    assert row is not None and row[0] != len(keys["acme"])

    for tenant in tenants:
        space = KeySpace(tenant)
        sql = (
            f"SELECT k FROM {icu_table} WHERE k > %s AND "
            f"{space.where('k').replace('?', '%s')} ORDER BY k"
        )
        rows = pg_conn.execute(sql, (space.first(None), *space.params())).fetchall()
        assert [space.out(r[0]) for r in rows] == keys[tenant]
        resumed = pg_conn.execute(sql, (space.first(keys[tenant][2]), *space.params()))
        assert [space.out(r[0]) for r in resumed.fetchall()] == keys[tenant][3:]
    rows = pg_conn.execute(f"SELECT k FROM {icu_table} WHERE {outside_tenants('k')} ORDER BY k")
    assert [r[0] for r in rows.fetchall()] == root
