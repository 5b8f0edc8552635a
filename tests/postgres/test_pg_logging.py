"""The postgres driver's logging: pool, schema and LISTEN lifecycle at INFO on
``agentstore.postgres``, every operation at DEBUG, and never the password of a url taken
from the environment, a payload or a secret's value."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import StorePolicy
from logged import assert_nothing_secret, assert_ops_logged, exercise
from psycopg.conninfo import make_conninfo

PASSWORD = "Pg-Log-pw-0xFEEDFACE"


@pytest.fixture
def secret_url(pg_conn: psycopg.Connection[Any], pg_url: str) -> Iterator[str]:
    """A url with a password, for a role that has that password."""
    name = f"agentstore_test_log_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    try:
        yield make_conninfo(pg_url, user=name, password=PASSWORD)
    finally:
        pg_conn.execute(f"DROP OWNED BY {name} CASCADE")
        pg_conn.execute(f"DROP ROLE {name}")


def test_postgres_logs_its_lifecycle_and_every_operation_never_a_secret(
    secret_url: str,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("APP_PG_URL", secret_url)
    section = {"url": {"env": "APP_PG_URL"}, "schema": pg_schema, "notify": True}
    policy = StorePolicy("postgres", sections={"postgres": section})
    caplog.set_level(logging.DEBUG)
    with agentstore.open(policy) as store:
        exercise(store)
    records = caplog.records
    assert_ops_logged(records)
    assert_nothing_secret(records, PASSWORD, secret_url)
    pg = [r for r in records if r.name == "agentstore.postgres" and r.levelno == logging.INFO]
    lines = [r.getMessage() for r in pg]
    assert any("created the agentstore schema" in line for line in lines), lines
    target = policy.resolve().drivers["postgres"][1].target  # type: ignore[attr-defined]
    opened = f"opened a pool of 1..10 connections to {target}, schema {pg_schema}"
    assert opened in lines
    assert any(line.startswith("doorbell listener on ") and "LISTEN" in line for line in lines)
    assert any(line.startswith("closed the pool agentstore:") for line in lines), lines
    assert any(line.endswith("stopped") for line in lines), lines
