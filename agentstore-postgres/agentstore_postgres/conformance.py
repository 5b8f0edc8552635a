"""What the conformance suite needs to know about the ``postgres`` driver.

Imported only by the conformance suite (``DriverSpec.conformance`` names it). Each test
gets a fresh schema with a random name, dropped after the test. The server is the one the
driver section names; a section that names none uses ``$AGENTSTORE_TEST_POSTGRES_URL``::

    AGENTSTORE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        pytest --agentstore-driver postgres

Tampering goes through the SQL log store's own ``tamper``, named by ``tamper_via_log_store``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from agentstore.conformance import ConformanceSupport, tamper_via_log_store
from agentstore.driver import resolve_env

URL_ENV = "AGENTSTORE_TEST_POSTGRES_URL"
_SERVER_KEYS = ("url", "host", "port", "user", "dbname")


def fresh_schema(section: Mapping[str, Any], tmp_path: Path) -> Iterator[Mapping[str, Any]]:
    """Yield ``section`` pointed at a new, empty schema; drop that schema afterwards."""
    fresh = dict(section)
    if not any(key in fresh for key in _SERVER_KEYS) and os.environ.get(URL_ENV):
        fresh["url"] = {"env": URL_ENV}
    name = f"agentstore_conformance_{uuid.uuid4().hex[:12]}"
    fresh["schema"] = name
    try:
        yield fresh
    finally:
        _drop_schema(fresh, name)


def _drop_schema(section: Mapping[str, Any], name: str) -> None:
    from psycopg import sql

    from agentstore_postgres.config import PostgresConfig
    from agentstore_postgres.connect import connect

    config = PostgresConfig.model_validate(resolve_env(dict(section), "store.postgres"))
    with connect(config, schema=False) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


SUPPORT = ConformanceSupport(
    persistent=True, fresh_section=fresh_schema, tamper=tamper_via_log_store
)
