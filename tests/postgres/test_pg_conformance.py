"""The postgres driver against every contract (subclass route), a fresh schema per test.

``pytest --agentstore-driver postgres`` runs the same suite by name (CI does both).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from agentstore import StorePolicy
from agentstore.conformance import AllContracts
from agentstore_postgres.conformance import SUPPORT, fresh_schema
from pg_server import URL_ENV


class TestPostgresConformance(AllContracts):
    @pytest.fixture
    def agentstore_policy(self, pg_policy: StorePolicy) -> StorePolicy:
        return pg_policy


def test_fresh_schema_makes_and_drops_a_schema_of_its_own(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SUPPORT.persistent
    made = fresh_schema({"pool_max_size": 3}, tmp_path)
    section = next(made)
    assert os.environ.get(URL_ENV)
    assert section["url"] == {"env": URL_ENV}  # the test server, when the section names none
    assert section["pool_max_size"] == 3
    name = str(section["schema"])
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        for _ in made:  # the teardown half of the generator
            pass
        gone = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,))
        assert gone.fetchall() == []
    monkeypatch.setenv("AGENTSTORE_OTHER_URL", pg_url)
    again = fresh_schema({"url": {"env": "AGENTSTORE_OTHER_URL"}}, tmp_path)
    other = next(again)
    assert other["url"] == {"env": "AGENTSTORE_OTHER_URL"}  # a section naming a server keeps it
    assert other["schema"] != name
    again.close()
