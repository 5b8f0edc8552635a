"""A password in the url never reaches a repr, a str, a log line or an error message."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import StoreError, StorePolicy
from psycopg.conninfo import make_conninfo

SECRET = "Sekr1t-pw-0xC0FFEE"


@pytest.fixture
def secret_url(pg_conn: psycopg.Connection[Any], pg_url: str) -> Iterator[str]:
    """A url with a password, for a role that has that password (trust may ignore it)."""
    name = f"agentstore_test_pw_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{SECRET}'")
    try:
        yield make_conninfo(pg_url, user=name, password=SECRET)
    finally:
        pg_conn.execute(f"DROP OWNED BY {name} CASCADE")
        pg_conn.execute(f"DROP ROLE {name}")


def shown(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def test_nothing_shows_the_password(
    secret_url: str,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = secret_url
    assert SECRET in url
    monkeypatch.setenv("AGENTSTORE_SECRET_URL", url)
    section = {"url": {"env": "AGENTSTORE_SECRET_URL"}, "schema": pg_schema, "notify": True}
    policy = StorePolicy("postgres", sections={"postgres": section})
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    with agentstore.open(policy) as store:
        config = policy.resolve().drivers["postgres"][1]
        backend = store.policies._backend  # type: ignore[attr-defined]
        for obj in (store, policy, config, backend, store.log("s", writer="w"), store.credentials):
            texts += [repr(obj), str(obj)]
        texts.append(policy.dumps())
        store.log("s", writer="w").append(b"x")
        # A failing statement: its error goes through the driver's translation.
        with pytest.raises(StoreError) as info:
            backend.query("SELECT * FROM no_such_table")
        texts.append(shown(info.value))
    # A failing connect with the same credentials, to a port where nothing listens.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AGENTSTORE_SECRET_URL", make_conninfo(url, port=port))
    with pytest.raises(StoreError) as info:
        agentstore.open(policy)
    texts.append(shown(info.value))
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records  # the driver and pool did log something
    for text in texts:
        assert SECRET not in text


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentstore.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_cli_output_never_shows_the_password(
    secret_url: str, pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "agentstore.toml"
    policy.write_text(
        "[store]\nbackend = 'postgres'\n\n[store.postgres]\n"
        f"url = {{ env = 'AGENTSTORE_SECRET_URL' }}\nschema = '{pg_schema}'\n"
    )
    good = {"AGENTSTORE_SECRET_URL": secret_url}
    monkeypatch.setenv("AGENTSTORE_SECRET_URL", secret_url)
    agentstore.open(policy).close()  # the store verify finds (it creates none itself)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = {"AGENTSTORE_SECRET_URL": make_conninfo(secret_url, port=port)}
    runs = [
        (run_cli("--config", str(policy), "validate", env=good), 0),
        (run_cli("drivers", env=good), 0),
        (run_cli("--config", str(policy), "verify", "-v", env=good), 0),
        (run_cli("--config", str(policy), "verify", env=down), 1),
        (run_cli("--debug", "--config", str(policy), "verify", env=down), 1),
    ]
    inline = tmp_path / "inline.toml"
    inline.write_text(
        "[store]\nbackend = 'postgres'\n\n[store.postgres]\n"
        f"url = 'postgresql://someone:{SECRET}@127.0.0.1/test'\n"
    )
    runs.append((run_cli("--config", str(inline), "validate", env=good), 2))
    for result, code in runs:
        assert result.returncode == code, result.stdout + result.stderr
        assert SECRET not in result.stdout
        assert SECRET not in result.stderr
    assert f"127.0.0.1:{port}" in runs[3][0].stderr  # the error names where it looked
    assert "env" in runs[5][0].stderr  # the inline password is refused, pointing at env


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://someone:{SECRET}@[::1",  # an unbalanced '[': urlsplit refuses it
        f"postgresql://someone:{SECRET}@[::1/test?sslmode=require",
        f"postgresql://someone@[::1/test?password={SECRET}",
    ],
)
def test_a_malformed_url_is_refused_without_showing_its_password(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTSTORE_SECRET_URL", url)
    section = {"url": {"env": "AGENTSTORE_SECRET_URL"}}
    with pytest.raises(StoreError) as info:
        agentstore.open(StorePolicy("postgres", sections={"postgres": section}))
    text = shown(info.value)  # the whole chain: a --debug traceback or logger.exception
    assert SECRET not in text
    assert "invalid PostgreSQL connection settings" in str(info.value)
    policy = tmp_path / "agentstore.toml"
    policy.write_text(
        "[store]\nbackend = 'postgres'\n\n[store.postgres]\n"
        "url = { env = 'AGENTSTORE_SECRET_URL' }\n"
    )
    for args in (("verify",), ("--debug", "verify"), ("--debug", "list", "credentials")):
        result = run_cli("--config", str(policy), *args, env={"AGENTSTORE_SECRET_URL": url})
        assert result.returncode == 1, result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert "invalid PostgreSQL connection settings" in result.stderr
