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

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from agentstore import StorePolicy

if TYPE_CHECKING:
    import psycopg

URL_ENV = "AGENTSTORE_TEST_POSTGRES_URL"
REQUIRE_ENV = "AGENTSTORE_TEST_REQUIRE_POSTGRES"


def _find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _no_server(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL is required (${REQUIRE_ENV}=1) but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


@contextlib.contextmanager
def throwaway_cluster(password: str | None = None) -> Iterator[str]:
    """Start a private cluster in a temporary folder; yield its url; remove it after.

    With ``password``, the cluster demands it (scram-sha-256) and the url leaves it out.
    """
    initdb, pg_ctl = _find_tool("initdb"), _find_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        _no_server(f"${URL_ENV} is unset and initdb/pg_ctl are not installed")
    assert initdb is not None and pg_ctl is not None
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # initdb refuses to run as root; use the postgres account
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _no_server("running as root and there is no 'postgres' account for initdb")
        prefix = ["runuser", "-u", "postgres", "--"]
    tmp = Path(tempfile.mkdtemp(prefix="agentstore-pg-"))
    data = tmp / "data"
    port = _free_port()
    try:
        if owner is not None:
            os.chown(tmp, owner.pw_uid, owner.pw_gid)
        user = "postgres" if owner is not None else pwd.getpwuid(os.getuid()).pw_name
        auth = ["-A", "trust"]
        if password is not None:
            pwfile = tmp / "pw"
            pwfile.write_text(password)
            if owner is not None:
                os.chown(pwfile, owner.pw_uid, owner.pw_gid)
            auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
        subprocess.run(
            [*prefix, initdb, "-D", str(data), *auth, "-U", user, "--no-sync"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *prefix,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(tmp / "log"),
                "-w",
                "-o",
                f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
        _no_server(f"cannot connect to ${URL_ENV}: {exc}")
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


def pg_section(schema: str, **extra: object) -> dict[str, object]:
    """A ``[store.postgres]`` section on the test server, the url by env reference."""
    return {"url": {"env": URL_ENV}, "schema": schema, **extra}


@pytest.fixture
def pg_policy(pg_schema: str) -> StorePolicy:
    """A policy for a fresh, empty postgres store (every capability on it)."""
    return StorePolicy("postgres", sections={"postgres": pg_section(pg_schema)})
