"""The roles and grants docs/drivers/postgres.md recommends work as it says: the owner
creates the store, the application role uses it with DML rights only, the auditor verifies
and cannot write; and a role with USAGE but not CREATE on the schema fails a first open
with the error the page and the README quote."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import agentstore
import psycopg
import pytest
from agentstore import AgentId, AuditEntry, PolicyDocument, SessionId, SessionRecord, StorePolicy
from agentstore_postgres.config import PostgresConfig
from psycopg import sql

PAGE = Path(__file__).resolve().parents[2] / "docs" / "drivers" / "postgres.md"
ROLES = ("agentstore_owner", "agentstore_app", "agentstore_auditor")


def documented_statements() -> list[str]:
    """The statements of the page's sql block, in order."""
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"^```sql\n(?P<sql>.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert block is not None, "docs/drivers/postgres.md has no sql block"
    lines = [line for line in block["sql"].splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


@pytest.fixture
def roles(
    pg_url: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> Iterator[dict[str, str]]:
    """The documented statements run with fresh role names and the test's schema; each
    role's url; everything dropped after."""
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"{role}_{suffix}" for role in ROLES}
    statements = []
    for documented in documented_statements():
        statement = re.sub(r"\bSCHEMA agentstore\b", f"SCHEMA {pg_schema}", documented)
        for role, name in names.items():
            statement = re.sub(rf"\b{role}\b", name, statement)
        statements.append(statement)
    assert len(statements) == 7
    parts = urlsplit(pg_url)
    host = parts.netloc.rpartition("@")[2]
    try:
        for statement in statements:
            pg_conn.execute(statement.encode())
        yield {
            role: urlunsplit(parts._replace(netloc=f"{name}@{host}"))
            for role, name in names.items()
        }
    finally:
        pg_conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(pg_schema))
        )
        for name in names.values():
            pg_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            pg_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def policy(url: str, schema: str) -> StorePolicy:
    return StorePolicy("postgres", sections={"postgres": {"url": url, "schema": schema}})


def test_the_documented_roles_work_as_the_page_says(
    roles: dict[str, str], pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    app = policy(roles["agentstore_app"], pg_schema)
    with pytest.raises(agentstore.StoreError, match=f"permission denied.*{pg_schema}"):
        agentstore.open(app)  # no table yet, and the application may not create them
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = %s"
    assert pg_conn.execute(tables, (pg_schema,)).fetchone() == (0,)  # nothing left behind

    agentstore.open(policy(roles["agentstore_owner"], pg_schema)).close()  # creates them

    agent = AgentId.new()
    with agentstore.open(app) as store:  # DML only: every capability
        log = store.log("conv", writer="alice")
        log.append(b"one")
        log.append_many([b"two", b"three"])  # COPY
        assert store.generation("g").bump() == 1
        assert store.rate_limits.increment("k") == 1
        store.rate_limits.reset("k")
        store.policies.put(agent, PolicyDocument({"a": 1}))
        store.policies.invalidate(agent)
        session = SessionRecord(SessionId.new(), agent, {})
        store.sessions.save(session)
        store.sessions.delete(session.session_id)
        store.credentials.put_secret("s", b"x")
        store.credentials.delete_secret("s")
        store.lifecycle.register(agent)
        store.lifecycle.heartbeat(agent)
        store.lifecycle.deregister(agent)
        store.audit.emit(AuditEntry("done", agent_id=agent))
        assert log.verify() == 3

    auditor = policy(roles["agentstore_auditor"], pg_schema)
    with agentstore.open(auditor, read_only=True) as store:
        assert store.log("conv", writer="alice").verify() == 3
        assert store.audit.verify() == 1
        with pytest.raises(agentstore.StoreError, match="read-only"):
            store.log("conv", writer="alice").append(b"four")


README = PAGE.parents[2] / "agentstore-postgres" / "README.md"


def _one_spaced(path: Path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())


@pytest.fixture
def usage_only(pg_url: str, pg_schema: str, pg_conn: psycopg.Connection[Any]) -> Iterator[str]:
    """The url of a fresh login role with USAGE, but not CREATE, on the test's schema, which
    the server's owner role created; the role is dropped after."""
    name = f"agentstore_usage_{uuid.uuid4().hex[:8]}"
    role, schema = sql.Identifier(name), sql.Identifier(pg_schema)
    pg_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    try:
        pg_conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        pg_conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        parts = urlsplit(pg_url)
        yield urlunsplit(parts._replace(netloc=f"{name}@{parts.netloc.rpartition('@')[2]}"))
    finally:
        pg_conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        pg_conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
        pg_conn.execute(sql.SQL("DROP ROLE {}").format(role))


def test_usage_without_create_on_the_schema_fails_a_first_open_as_the_docs_say(
    usage_only: str, pg_url: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    documented = "permission denied for schema <name> [SQLSTATE 42501]"
    for page in (README, PAGE):
        assert documented in _one_spaced(page), f"{page.name} no longer says what happens"
    where = f"PostgreSQL at {PostgresConfig(url=pg_url).target}"
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = %s"

    with pytest.raises(agentstore.StoreError) as info:
        agentstore.open(policy(usage_only, pg_schema))  # create=True, the default
    assert type(info.value) is agentstore.StoreError  # not StoreNotFound/BackendUnavailable
    assert str(info.value) == f"{where}: " + documented.replace("<name>", pg_schema)
    assert isinstance(info.value.__cause__, psycopg.errors.InsufficientPrivilege)
    assert pg_conn.execute(tables, (pg_schema,)).fetchone() == (0,)  # nothing left behind
    for flags in ({"create": False}, {"read_only": True}):
        with pytest.raises(agentstore.StoreNotFound, match="holds no agentstore store"):
            agentstore.open(policy(usage_only, pg_schema), **flags)

    agentstore.open(policy(pg_url, pg_schema)).close()  # the owner creates the store
    with pytest.raises(agentstore.StoreError) as info:
        agentstore.open(policy(usage_only, pg_schema))  # no grant on the tables
    assert (
        str(info.value) == f"{where}: permission denied for table agentstore_meta [SQLSTATE 42501]"
    )
    assert "permission denied for table agentstore_meta" in _one_spaced(README)
    assert "permission denied for table agentstore_meta" in _one_spaced(PAGE)


def test_a_missing_schema_the_role_may_not_create_names_the_grant(
    usage_only: str, pg_conn: psycopg.Connection[Any]
) -> None:
    missing = f"agentstore_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(agentstore.StoreError, match=r"grant CREATE on the database$"):
        agentstore.open(policy(usage_only, missing))
    assert (
        pg_conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (missing,)).fetchone()
        is None
    )
