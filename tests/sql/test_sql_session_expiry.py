"""Schema version 4 (sessions' expiry) on every SQL backend: the upgrade keeps every
session (never expiring), and a version 3 database opened without upgrading still reads
and writes sessions, refusing only a TTL."""

from __future__ import annotations

import pytest
from agentstore import SchemaVersionError
from agentstore.conformance import FakeClock
from agentstore.spec import OpenContext
from agentstore.sql import Backend, ensure_schema, open_sql_stores, schema_version
from agentstore.sql.governance import SqlSessionStore
from agentstore.sql.schema import CREATE_META, META_TABLE, VERSION_KEY, layout_of, upgrade_steps
from agentstore.types import AgentId, SessionId, SessionRecord
from conftest import log_store_class


def _make(backend: Backend, version: int) -> None:
    layout = layout_of(backend)
    with backend.transaction():
        backend.exec(layout.sql(CREATE_META))
        for step in range(1, version + 1):
            for statement in upgrade_steps(layout, step):
                backend.exec(layout.sql(statement))
        backend.exec(
            f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)", (VERSION_KEY, str(version))
        )


def _sessions(backend: Backend, clock: FakeClock, *, create: bool) -> SqlSessionStore:
    context = OpenContext(frozenset({"sessions"}), clock=clock, create=create)
    stores = open_sql_stores(backend, context, log_store=log_store_class(backend))
    assert isinstance(stores.sessions, SqlSessionStore)
    return stores.sessions


def test_upgrading_keeps_sessions_and_they_never_expire(backend: Backend) -> None:
    _make(backend, 3)
    old = SessionRecord(SessionId.new(), AgentId.new(), {"v": 3})
    backend.exec(
        "INSERT INTO agentstore_sessions (session_id, agent_id, data) VALUES (?, ?, ?)",
        (str(old.session_id), str(old.agent_id), '{"v":3}'),
    )
    clock = FakeClock()
    sessions = _sessions(backend, clock, create=True)
    assert schema_version(backend) == 4
    assert sessions.expiring
    clock.advance(10**9)
    assert sessions.load(old.session_id) == old
    assert list(sessions.ids()) == [old.session_id]
    assert sessions.purge_expired() == 0


def test_a_version_3_store_opened_without_upgrading_keeps_working(backend: Backend) -> None:
    _make(backend, 3)
    clock = FakeClock()
    sessions = _sessions(backend, clock, create=False)
    assert not sessions.expiring
    assert schema_version(backend) == 3  # nothing was upgraded
    record = SessionRecord(SessionId.new(), AgentId.new(), {"n": 1})
    sessions.save(record)
    assert sessions.load(record.session_id) == record
    assert list(sessions.ids()) == [record.session_id]
    assert sessions.purge_expired() == 0
    with pytest.raises(SchemaVersionError, match="create=True"):
        sessions.save(record, ttl_secs=10)
    assert sessions.load(record.session_id) == record
    assert ensure_schema(backend) == 4
    upgraded = _sessions(backend, clock, create=False)
    upgraded.save(record, ttl_secs=10)
    clock.advance(10)
    assert list(upgraded.ids()) == []
