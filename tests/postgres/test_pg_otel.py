"""OpenTelemetry on the postgres driver: ``db.system`` is ``postgres`` on every span, and no
span or metric holds the password of a url read from the environment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import StorePolicy
from logged import exercise
from otel_kit import Telemetry, assert_no_secret_in, span_texts, telemetry
from psycopg.conninfo import make_conninfo

__all__ = ["telemetry"]

PASSWORD = "Pg-Otel-pw-0xDEADBEEF"


@pytest.fixture
def secret_url(pg_conn: psycopg.Connection[Any], pg_url: str) -> Iterator[str]:
    name = f"agentstore_test_otel_{uuid.uuid4().hex[:8]}"
    pg_conn.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    try:
        yield make_conninfo(pg_url, user=name, password=PASSWORD)
    finally:
        pg_conn.execute(f"DROP OWNED BY {name} CASCADE")
        pg_conn.execute(f"DROP ROLE {name}")


def test_postgres_spans_and_metrics_hold_no_secret(
    telemetry: Telemetry, secret_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_PG_URL", secret_url)
    section = {"url": {"env": "APP_PG_URL"}, "schema": pg_schema}
    with agentstore.open(StorePolicy("postgres", sections={"postgres": section})) as store:
        exercise(store)
    spans = telemetry.finished()
    assert len(spans) > 25
    assert {dict(s.attributes or {})["db.system"] for s in spans} == {"postgres"}
    metric_texts = [
        repr(attrs)
        for name in ("agentstore.appends", "agentstore.errors", "db.client.operation.duration")
        for attrs, _ in telemetry.points(name)
    ]
    assert_no_secret_in(span_texts(spans) + metric_texts, PASSWORD, secret_url)
