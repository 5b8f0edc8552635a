"""Finding or starting a PostgreSQL server for the tests (helpers, not fixtures).

A uniquely named module: test files import from here, never from ``conftest``.
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
from collections.abc import Iterator
from pathlib import Path

import pytest

URL_ENV = "AGENTSTORE_TEST_POSTGRES_URL"
REQUIRE_ENV = "AGENTSTORE_TEST_REQUIRE_POSTGRES"


def find_tool(name: str) -> str | None:
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


def no_server(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL is required (${REQUIRE_ENV}=1) but {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


@contextlib.contextmanager
def throwaway_cluster(password: str | None = None) -> Iterator[str]:
    """Start a private cluster in a temporary folder; yield its url; remove it after.

    With ``password``, the cluster demands it (scram-sha-256) and the url leaves it out.
    """
    initdb, pg_ctl = find_tool("initdb"), find_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        no_server(f"${URL_ENV} is unset and initdb/pg_ctl are not installed")
    assert initdb is not None and pg_ctl is not None
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # initdb refuses to run as root; use the postgres account
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            no_server("running as root and there is no 'postgres' account for initdb")
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


def pg_section(schema: str, **extra: object) -> dict[str, object]:
    """A ``[store.postgres]`` section on the test server, the url by env reference."""
    return {"url": {"env": URL_ENV}, "schema": schema, **extra}
