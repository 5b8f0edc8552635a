"""Every Python example in a README runs, as a reader would run it, so none can rot.

Each ``python`` block runs on its own, in a fresh process and an empty working folder
(where the default policy puts its SQLite file), with ``$AGENTSTORE_CONFIG`` unset. A
block that opens ``agentstore.toml`` gets the README's nearest policy (``toml`` block with
a ``[store]`` table) above it written there: "the policy above". A block or policy naming
postgres runs against a database of its own on ``$AGENTSTORE_TEST_POSTGRES_URL``, reached
through ``$AGENTSTORE_POSTGRES_URL``; one naming redis against the local Redis server,
through ``$AGENTSTORE_REDIS_URL``. Those skip with the reason when the server is absent,
except in CI (or with ``AGENTSTORE_TEST_REQUIRE_POSTGRES=1`` / ``..._REDIS=1``).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from readme_blocks import DIST_FOLDERS, ROOT, Block, blocks, readme

READMES = [ROOT / "README.md", *(readme(d) for d in sorted(DIST_FOLDERS))]


def _examples() -> list[tuple[Block, Block | None]]:
    """Each python block with the policy written for it, if it opens ``agentstore.toml``."""
    found: list[tuple[Block, Block | None]] = []
    for path in READMES:
        policy: Block | None = None
        for block in blocks(path):
            if block.lang == "toml" and re.search(r"^\[store\]", block.code, re.MULTILINE):
                policy = block
            elif block.lang == "python":
                found.append((block, policy if "agentstore.toml" in block.code else None))
    return found


EXAMPLES = _examples()


def _required(server: str) -> bool:
    return (
        os.environ.get("CI") == "true"
        or os.environ.get(f"AGENTSTORE_TEST_REQUIRE_{server.upper()}") == "1"
    )


def _absent(server: str, reason: str) -> NoReturn:
    if _required(server):
        pytest.fail(f"{server} is required here but {reason}", pytrace=False)
    pytest.skip(f"no {server} server: {reason}")


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    """A libpq connection string for a new, empty database, dropped afterwards."""
    url = os.environ.get("AGENTSTORE_TEST_POSTGRES_URL")
    if not url:
        _absent("postgres", "$AGENTSTORE_TEST_POSTGRES_URL is unset")
    import psycopg
    from psycopg import conninfo

    name = f"agentstore_readme_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _absent("postgres", f"cannot connect to $AGENTSTORE_TEST_POSTGRES_URL ({exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield conninfo.make_conninfo(url, dbname=name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _redis_server(policy_text: str) -> Iterator[str]:
    """The local Redis server's url; the keys under the policy's prefix are deleted after."""
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        client.close()
        _absent("redis", f"not reachable at 127.0.0.1:6379 ({exc})")
    prefix = re.search(r'^prefix\s*=\s*"([^"]+)"', policy_text, re.MULTILINE)
    try:
        yield url
    finally:
        if prefix is not None:
            keys = list(client.scan_iter(match=f"{prefix.group(1)}*", count=1000))
            if keys:
                client.delete(*keys)
        client.close()


def _run(code: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = folder / "example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=120,
        check=False,
    )


def test_every_distribution_readme_has_a_python_example() -> None:
    with_examples = {block.path for block, _ in EXAMPLES}
    assert {readme(d) for d in DIST_FOLDERS} <= with_examples


@pytest.mark.parametrize(("block", "policy"), EXAMPLES, ids=[block.name for block, _ in EXAMPLES])
def test_readme_example_runs(block: Block, policy: Block | None, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSTORE_")}
    env["AGENTSTORE_TEST_POSTGRES_URL"] = os.environ.get("AGENTSTORE_TEST_POSTGRES_URL", "")
    policy_text = "" if policy is None else policy.code
    if policy is not None:
        (tmp_path / "agentstore.toml").write_text(policy_text, encoding="utf-8")
    text = block.code + policy_text
    with contextlib.ExitStack() as servers:
        if "postgres" in text:
            env["AGENTSTORE_POSTGRES_URL"] = servers.enter_context(_postgres_database())
        if "redis" in text:
            env["AGENTSTORE_REDIS_URL"] = servers.enter_context(_redis_server(policy_text))
        result = _run(block.code, tmp_path, env)
    assert result.returncode == 0, f"{block.name} failed:\n{result.stderr}"
    assert result.stderr == "", f"{block.name} wrote to stderr:\n{result.stderr}"
