"""The PostgreSQL backend for the substrate tests: a fresh schema per test folder.

Uses ``$AGENTSTORE_TEST_POSTGRES_URL``; without it the postgres cases are skipped (or fail
when ``$AGENTSTORE_TEST_REQUIRE_POSTGRES=1``, as in CI).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from agentstore.sql import Backend


def postgres_backend(tmp: Path) -> Backend:
    """A backend on an empty schema named after ``tmp``; the same ``tmp`` shares it."""
    url = os.environ.get("AGENTSTORE_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("AGENTSTORE_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("AGENTSTORE_TEST_POSTGRES_URL is required but unset", pytrace=False)
        pytest.skip("no PostgreSQL server: AGENTSTORE_TEST_POSTGRES_URL is unset")
    import psycopg
    from agentstore_postgres.backend import PostgresBackend
    from agentstore_postgres.config import PostgresConfig
    from agentstore_postgres.connect import open_pool

    schema = "agentstore_sql_" + hashlib.sha256(str(tmp).encode()).hexdigest()[:16]

    class ThrowawaySchema(PostgresBackend):
        def close(self) -> None:
            if self.closed:
                return
            super().close()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    backend = open_pool(PostgresConfig(url=url, schema=schema, pool_max_size=4))
    backend.__class__ = ThrowawaySchema
    return backend
