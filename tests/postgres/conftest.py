"""A real PostgreSQL server for the postgres driver's tests, and a fresh schema per test.

Which server:
  1. ``$AGENTSTORE_TEST_POSTGRES_URL`` when set (CI sets it);
  2. else a throwaway cluster started with ``initdb``/``pg_ctl`` (on PATH or under
     /usr/lib/postgresql/*/bin) in a temporary folder, removed after the run;
  3. else every test here is skipped with the reason, unless
     ``$AGENTSTORE_TEST_REQUIRE_POSTGRES=1``, in which case they fail.

Every test gets its own schema (a random name, dropped after), so runs never see each
other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from agentstore import StorePolicy
from pg_server import URL_ENV, no_server, pg_section, throwaway_cluster

if TYPE_CHECKING:
    import psycopg


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The url of the server the tests use; ``$AGENTSTORE_TEST_POSTGRES_URL`` is set to it."""
    url = os.environ.get(URL_ENV)
    if url:
        yield url
        return
    with throwaway_cluster() as url:
        os.environ[URL_ENV] = url  # subprocesses and env references find it too
        try:
            yield url
        finally:
            os.environ.pop(URL_ENV, None)


@pytest.fixture
def pg_conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg connection to the test server (imports psycopg)."""
    import psycopg

    try:
        conn = psycopg.connect(pg_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        no_server(f"cannot connect to ${URL_ENV}: {exc}")
        raise
    with conn:
        yield conn


def new_schema_name() -> str:
    return f"agentstore_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A schema name unique to this test; whatever the test creates in it is dropped after."""
    import psycopg
    from psycopg import sql

    name = new_schema_name()
    try:
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def pg_policy(pg_schema: str) -> StorePolicy:
    """A policy for a fresh, empty postgres store (every capability on it)."""
    return StorePolicy("postgres", sections={"postgres": pg_section(pg_schema)})


@pytest.fixture
def private_db(pg_url: str) -> Iterator[str]:
    """The url of a database of this test's own, dropped after: no other session's
    snapshot there holds back what VACUUM may remove (other tests share the main one)."""
    import psycopg
    from psycopg import conninfo, sql

    name = f"agentstore_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield conninfo.make_conninfo(pg_url, dbname=name)
    finally:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
