"""With [store.encryption], the PostgreSQL table holds envelopes only; a moved one is
caught on read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import StorePolicy
from agentstore.crypto import DecryptionFailed, generate_key
from encrypted import ENCRYPTED, KEY_ENV
from pg_server import pg_section

SECRET = b"sk-live-PLAINTEXT-4b1d9e-never-at-rest"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    value = generate_key()
    monkeypatch.setenv(KEY_ENV, value)
    yield value


def test_postgres_table_never_holds_the_plaintext(
    pg_schema: str, pg_conn: psycopg.Connection[Any], key: str
) -> None:
    policy = StorePolicy(
        "postgres", sections={"postgres": pg_section(pg_schema)}, encryption=ENCRYPTED
    )
    with agentstore.open(policy) as store:
        store.credentials.put_secret("api", SECRET)
        rows = pg_conn.execute(
            f'SELECT name, value FROM "{pg_schema}".agentstore_credentials'
        ).fetchall()
        assert [r[0] for r in rows] == ["api"]
        assert SECRET not in bytes(rows[0][1])
        swapped = bytes(rows[0][1])
        pg_conn.execute(
            f'INSERT INTO "{pg_schema}".agentstore_credentials (name, value) VALUES (%s, %s)',
            ("moved", swapped),
        )
        with pytest.raises(DecryptionFailed, match="'moved'"):
            store.credentials.get_secret("moved")
        assert store.credentials.get_secret("api") == SECRET
