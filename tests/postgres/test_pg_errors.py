"""Bad input: unreachable servers, wrong credentials, missing databases, missing privileges.

Each failure is a clear agentstore error naming where it looked, and leaves nothing behind.
"""

from __future__ import annotations

import socket
import time
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import BackendUnavailable, StoreError, StorePolicy
from pg_server import find_tool, pg_section, throwaway_cluster
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SECRET = "Pw-never-shown-7781"


def policy_for(monkeypatch: pytest.MonkeyPatch, url: str, schema: str, **extra: Any) -> StorePolicy:
    monkeypatch.setenv("AGENTSTORE_ERRORS_URL", url)
    section = {"url": {"env": "AGENTSTORE_ERRORS_URL"}, "schema": schema, **extra}
    return StorePolicy("postgres", sections={"postgres": section})


def full_text(exc: BaseException) -> str:
    """The message, the repr and the whole chained traceback as a user would see it."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_server_down_is_backend_unavailable_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch, pg_schema: str
) -> None:
    port = closed_port()
    url = f"postgresql://alice:{SECRET}@127.0.0.1:{port}/test"
    policy = policy_for(monkeypatch, url, pg_schema, connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        agentstore.open(policy)
    assert time.monotonic() - started < 3
    assert f"127.0.0.1:{port}" in str(info.value)
    assert SECRET not in full_text(info.value)
    assert isinstance(info.value.__cause__, psycopg.OperationalError)


def test_missing_database(
    monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    missing = f"no_such_db_{uuid.uuid4().hex[:8]}"
    url = make_conninfo(pg_url, dbname=missing)
    with pytest.raises(BackendUnavailable) as info:
        agentstore.open(policy_for(monkeypatch, url, pg_schema))
    assert f'database "{missing}" does not exist' in str(info.value)
    parts = conninfo_to_dict(pg_url)
    assert f"{parts.get('host', 'localhost')}:{parts.get('port', '5432')}" in str(info.value)
    exists = pg_conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (missing,))
    assert exists.fetchall() == []


def test_wrong_password(monkeypatch: pytest.MonkeyPatch, pg_schema: str) -> None:
    # The shared test server trusts 127.0.0.1 (any password passes), so a private cluster
    # that demands one is started for this test.
    if find_tool("initdb") is None or find_tool("pg_ctl") is None:
        pytest.skip("needs initdb and pg_ctl to start a cluster that checks passwords")
    with throwaway_cluster(password=SECRET) as url:
        good = policy_for(monkeypatch, make_conninfo(url, password=SECRET), pg_schema)
        with agentstore.open(good) as store:  # the right password works
            store.generation("g").bump()
        wrong = make_conninfo(url, password=SECRET + "-wrong")
        with pytest.raises(BackendUnavailable) as info:
            agentstore.open(policy_for(monkeypatch, wrong, pg_schema + "_2"))
        assert "password authentication failed" in str(info.value)
        assert SECRET not in full_text(info.value)
        with psycopg.connect(make_conninfo(url, password=SECRET)) as conn:
            found = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname = %s", (pg_schema + "_2",)
            ).fetchall()
        assert found == []  # nothing was created by the refused attempt


@pytest.fixture
def role(pg_conn: psycopg.Connection[Any], pg_url: str) -> Iterator[str]:
    """A login role with no privileges beyond PUBLIC's; its url (trust auth assumed)."""
    name = f"agentstore_test_role_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"CREATE ROLE {name} LOGIN")
    url = make_conninfo(pg_url, user=name)
    try:
        psycopg.connect(url).close()
    except psycopg.OperationalError as exc:
        pg_conn.execute(f"DROP ROLE {name}")
        pytest.skip(f"cannot log in as a fresh role without a password here: {exc}")
    try:
        yield url
    finally:
        dbname = pg_conn.info.dbname
        pg_conn.execute(f"REVOKE ALL ON DATABASE {dbname} FROM {name}")
        pg_conn.execute(f"DROP OWNED BY {name} CASCADE")
        pg_conn.execute(f"DROP ROLE {name}")


def schema_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    rows = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchall()
    return bool(rows)


def tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
    ).fetchall()
    return [r[0] for r in rows]


def test_schema_the_user_may_not_create(
    monkeypatch: pytest.MonkeyPatch, role: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    with pytest.raises(StoreError, match=rf"schema '{pg_schema}' does not exist.*may not create"):
        agentstore.open(policy_for(monkeypatch, role, pg_schema))
    assert not schema_exists(pg_conn, pg_schema)


def test_schema_the_user_may_not_use(
    monkeypatch: pytest.MonkeyPatch, role: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    pg_conn.execute(f"CREATE SCHEMA {pg_schema}")
    with pytest.raises(StoreError, match=rf"may not use schema '{pg_schema}'.*GRANT USAGE"):
        agentstore.open(policy_for(monkeypatch, role, pg_schema))
    assert tables(pg_conn, pg_schema) == []


def test_schema_the_user_may_read_but_not_build_in(
    monkeypatch: pytest.MonkeyPatch, role: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    pg_conn.execute(f"CREATE SCHEMA {pg_schema}")
    user = conninfo_to_dict(role)["user"]
    pg_conn.execute(f"GRANT USAGE ON SCHEMA {pg_schema} TO {user}")
    with pytest.raises(StoreError, match=r"permission denied for schema") as info:
        agentstore.open(policy_for(monkeypatch, role, pg_schema))
    assert not isinstance(info.value, BackendUnavailable)
    assert tables(pg_conn, pg_schema) == []  # the schema setup is one transaction


def test_the_user_may_create_a_schema_when_granted(
    monkeypatch: pytest.MonkeyPatch, role: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    user = conninfo_to_dict(role)["user"]
    pg_conn.execute(f"GRANT CREATE ON DATABASE {pg_conn.info.dbname} TO {user}")
    with agentstore.open(policy_for(monkeypatch, role, pg_schema)) as store:
        assert store.log("s", writer="w").append(b"x").seq == 1
    assert "agentstore_log" in tables(pg_conn, pg_schema)


def test_malformed_connection_settings(monkeypatch: pytest.MonkeyPatch, pg_schema: str) -> None:
    url = f"host=127.0.0.1 port=not-a-port password={SECRET}"
    with pytest.raises(StoreError) as info:
        agentstore.open(policy_for(monkeypatch, url, pg_schema))
    assert "port" in str(info.value)
    assert SECRET not in full_text(info.value)


def test_sections_are_checked_before_connecting(pg_schema: str) -> None:
    policy = StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, pool_max_size=0)})
    with pytest.raises(agentstore.InvalidPolicy, match=r"store\.postgres\.pool_max_size"):
        agentstore.open(policy)


def test_a_dropped_connection_fails_one_call_and_the_pool_recovers(
    pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    app = f"agentstore-test-{uuid.uuid4().hex[:8]}"  # only this store's connections
    section = pg_section(pg_schema, application_name=app, pool_min_size=2)
    with agentstore.open(StorePolicy("postgres", sections={"postgres": section})) as store:
        log = store.log("s", writer="w")
        log.append(b"before")
        # The server ends every connection of this store (an admin, a failover, a restart).
        pg_conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (app,),
        )
        failures = 0
        for i in range(3):
            try:
                log.append(b"after %d" % i)
            except BackendUnavailable as exc:
                failures += 1
                assert "cannot reach PostgreSQL at" in str(exc)
        assert failures <= 1  # at most the call that met the dead connection
        assert log.verify() == 1 + 3 - failures
        assert log.append(b"last").seq == 5 - failures
