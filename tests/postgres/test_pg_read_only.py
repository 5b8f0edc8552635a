"""Opening without create creates no schema or table; a role with SELECT only verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import agentstore
import psycopg
import pytest
from agentstore import StoreError, StoreNotFound, StorePolicy
from agentstore.cli import cli
from agentstore.cli.app import Options
from agentstore.registry import Registry
from click.testing import CliRunner
from psycopg import sql


def _schemas(conn: psycopg.Connection[Any], name: str) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s ORDER BY 1",
        (name,),
    ).fetchall()
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchall()
    return ["(schema)"] * len(exists) + [r[0] for r in rows]


def _verify(policy: StorePolicy, tmp_path: Path) -> Any:
    path = tmp_path / "p.toml"
    path.write_text(policy.dumps(), encoding="utf-8")
    return CliRunner().invoke(cli, ["--config", str(path), "verify"], obj=Options(Registry()))


@pytest.mark.parametrize("flags", [{"create": False}, {"read_only": True}])
def test_a_mistyped_schema_is_not_created(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any], flags: Any
) -> None:
    with pytest.raises(StoreNotFound) as info:
        agentstore.open(pg_policy, **flags)
    message = str(info.value)
    assert repr(pg_schema) in message and "127.0.0.1:5432" in message
    assert "holds no agentstore store" in message
    assert _schemas(pg_conn, pg_schema) == []


def test_cli_verify_of_a_mistyped_schema_exits_2_and_creates_nothing(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    result = _verify(pg_policy, tmp_path)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds no agentstore store" in lines[0]
    assert pg_schema in lines[0]
    assert _schemas(pg_conn, pg_schema) == []


def test_a_schema_of_application_tables_is_no_store_and_stays_untouched(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    pg_conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg_schema)))
    pg_conn.execute(sql.SQL("CREATE TABLE {}.t (x int)").format(sql.Identifier(pg_schema)))
    with pytest.raises(StoreNotFound, match="holds no agentstore store"):
        agentstore.open(pg_policy, create=False)
    assert _verify(pg_policy, tmp_path).exit_code == 2
    assert _schemas(pg_conn, pg_schema) == ["(schema)", "t"]


def test_an_empty_store_is_found(pg_policy: StorePolicy, tmp_path: Path) -> None:
    agentstore.open(pg_policy).close()
    with agentstore.open(pg_policy, create=False) as store:
        assert store.logs() == []
    result = _verify(pg_policy, tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: no chains to verify")


@pytest.fixture
def reader_url(pg_schema: str, pg_url: str, pg_conn: psycopg.Connection[Any]) -> Iterator[str]:
    """The url of a new role that may only read the test schema's tables; dropped after."""
    name = f"agentstore_reader_{uuid.uuid4().hex[:8]}"
    role = sql.Identifier(name)
    schema = sql.Identifier(pg_schema)
    pg_conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
    pg_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    try:
        pg_conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        parts = urlsplit(pg_url)
        host = parts.netloc.rpartition("@")[2]
        yield urlunsplit(parts._replace(netloc=f"{name}@{host}"))
    finally:
        pg_conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
        pg_conn.execute(sql.SQL("DROP ROLE {}").format(role))


def test_a_role_with_select_only_verifies_and_cannot_write(
    pg_policy: StorePolicy,
    pg_schema: str,
    reader_url: str,
    pg_conn: psycopg.Connection[Any],
    tmp_path: Path,
) -> None:
    with agentstore.open(pg_policy) as store:
        store.log("conv", "alice").append_many([b"1", b"2", b"3"])
        store.audit.emit(agentstore.AuditEntry("made"))
    role = sql.Identifier(urlsplit(reader_url).username or "")
    pg_conn.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(pg_schema), role
        )
    )
    reader = StorePolicy(
        "postgres", sections={"postgres": {"url": reader_url, "schema": pg_schema}}
    )
    result = _verify(reader, tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 2 chains hold (4 entries)\n"
    with agentstore.open(reader, read_only=True) as store:
        with pytest.raises(StoreError, match="opened read-only"):
            store.log("conv", "alice").append(b"4")
        assert store.log("conv", "alice").verify() == 3


def test_the_async_store_opened_read_only_reads_and_refuses_writes_natively(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    import asyncio

    import agentstore.aio
    from agentstore_postgres.aio import PgAsyncLogStore

    with agentstore.open(pg_policy) as store:
        store.log("conv", "alice").append_many([b"1", b"2"])
        store.generation("g").bump()

    def rows() -> list[Any]:
        return pg_conn.execute(
            sql.SQL("SELECT stream, writer, seq FROM {}.agentstore_log ORDER BY 1, 2, 3").format(
                sql.Identifier(pg_schema)
            )
        ).fetchall()

    before = rows()

    async def main() -> None:
        async with agentstore.aio.open(pg_policy, read_only=True) as store:
            assert isinstance(store._cap("logs"), PgAsyncLogStore)  # the native path
            log = store.log("conv", "alice")
            assert [e.payload async for e in log.entries()] == [b"1", b"2"]
            assert await store.generation("g").current() == 1
            with pytest.raises(StoreError, match="opened read-only"):
                await log.append(b"3")
            with pytest.raises(StoreError, match="opened read-only"):
                await store.generation("g").bump()

    asyncio.run(main())
    assert rows() == before
