"""The postgres driver through the facade: schema, persistence, sharing, the adoption seam."""

from __future__ import annotations

import threading
from typing import Any

import agentstore
import agentstore_postgres
import psycopg
import pytest
from agentstore import SchemaVersionError, StoreError, StorePolicy
from agentstore.sql import SCHEMA_VERSION


def tables_in(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
        " ORDER BY table_name",
        (schema,),
    ).fetchall()
    return [r[0] for r in rows]


def test_open_creates_the_schema_and_keeps_data_there(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    with agentstore.open(pg_policy) as store:
        assert store.routes["logs"] == "postgres"
        entry = store.log("conv", writer="alice").append(b"hello")
        assert entry.seq == 1
    assert "agentstore_log" in tables_in(pg_conn, pg_schema)
    assert "agentstore_log" not in tables_in(pg_conn, "public")
    with agentstore.open(pg_policy) as again:  # persisted, and reopening is idempotent
        head = again.log("conv", writer="alice").head()
        assert head is not None and head.payload == b"hello"
        assert again.generation("g").bump() == 1


def test_each_schema_is_a_separate_store(pg_url: str, pg_schema: str) -> None:
    other = f"{pg_schema}_b"
    section = {"url": {"env": "AGENTSTORE_TEST_POSTGRES_URL"}}
    a = StorePolicy("postgres", sections={"postgres": {**section, "schema": pg_schema}})
    b = StorePolicy("postgres", sections={"postgres": {**section, "schema": other}})
    try:
        with agentstore.open(a) as sa, agentstore.open(b) as sb:
            sa.log("s", writer="w").append(b"only in a")
            assert sb.log("s", writer="w").head() is None
            assert sb.logs() == []
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {other} CASCADE")


def test_two_open_stores_share_everything(pg_policy: StorePolicy) -> None:
    with agentstore.open(pg_policy) as a, agentstore.open(pg_policy) as b:
        a.log("s", writer="w").append_many([b"1", b"2", b"3"])
        b.log("s", writer="w").append(b"4")  # b's head cache starts cold
        a.log("s", writer="w").append(b"5")  # a's cached head is stale: it retries
        assert [e.payload for e in b.log("s", writer="w").entries()] == [
            b"1",
            b"2",
            b"3",
            b"4",
            b"5",
        ]
        assert a.log("s", writer="w").verify() == 5
        a.credentials.put_secret("k", b"v")
        assert b.credentials.get_secret("k") == b"v"


def test_append_many_of_a_thousand_is_one_chain(pg_policy: StorePolicy) -> None:
    with agentstore.open(pg_policy) as store:
        log = store.log("bulk", writer="w")
        log.append(b"first")
        entries = log.append_many([b"%d" % i for i in range(1000)])
        assert [e.seq for e in entries] == list(range(2, 1002))
        assert entries[0].prev_hash == log.entries().__next__().content_hash
        assert log.verify() == 1001
        stored = list(log.entries(after=1))
        assert stored == entries


def test_a_newer_schema_is_refused_and_left_alone(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    with agentstore.open(pg_policy):
        pass
    newer = str(SCHEMA_VERSION + 1)
    pg_conn.execute(
        f"UPDATE {pg_schema}.agentstore_meta SET value = %s WHERE key = 'schema_version'",
        (newer,),
    )
    with pytest.raises(SchemaVersionError, match="newer"):
        agentstore.open(pg_policy)
    row = pg_conn.execute(f"SELECT value FROM {pg_schema}.agentstore_meta").fetchone()
    assert row == (newer,)


# -- the incremental-adoption seam ---------------------------------------------------------


@pytest.fixture
def app_conn(pg_url: str, pg_schema: str) -> Any:
    """An application's own connection (not autocommit), its search_path on the schema."""
    conn = psycopg.connect(pg_url)
    conn.execute(f"CREATE SCHEMA {pg_schema}")
    conn.execute(f"SET search_path = {pg_schema}")
    conn.execute("CREATE TABLE orders (id INT PRIMARY KEY)")  # the application's own table
    conn.commit()
    yield conn
    conn.close()


def test_a_store_on_the_applications_connection(
    app_conn: psycopg.Connection[Any], pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    with agentstore_postgres.open_on_connection(app_conn) as store:
        store.log("s", writer="w").append(b"one")
        store.generation("g").bump()
    # One database, one schema: the application's table beside agentstore's.
    names = tables_in(pg_conn, pg_schema)
    assert "orders" in names and "agentstore_log" in names
    assert not app_conn.closed  # never closed by the store
    assert app_conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    # Committed on its own: another session sees it.
    count = pg_conn.execute(f"SELECT count(*) FROM {pg_schema}.agentstore_log").fetchone()
    assert count == (1,)


def test_store_calls_join_the_applications_transaction(
    app_conn: psycopg.Connection[Any], pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    store = agentstore_postgres.open_on_connection(app_conn)
    try:
        log = store.log("orders", writer="shop")
        with app_conn.transaction():
            app_conn.execute("INSERT INTO orders VALUES (1)")
            log.append(b"order 1 placed")
        with pytest.raises(RuntimeError), app_conn.transaction():
            app_conn.execute("INSERT INTO orders VALUES (2)")
            log.append(b"order 2 placed")
            raise RuntimeError("the application rolls back")
        # Domain rows and log entries commit or vanish together.
        assert app_conn.execute("SELECT id FROM orders").fetchall() == [(1,)]
        other = pg_conn.execute(
            f"SELECT payload FROM {pg_schema}.agentstore_log ORDER BY seq"
        ).fetchall()
        assert other == [(b"order 1 placed",)]
        assert log.append(b"order 3 placed").seq == 2  # the rolled-back seq is reused
        assert log.verify() == 2
    finally:
        store.close()


def test_threads_share_the_applications_connection(app_conn: psycopg.Connection[Any]) -> None:
    with agentstore_postgres.open_on_connection(app_conn) as store:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                log = store.log("t", writer="w")
                for _ in range(50):
                    log.append(b"%d" % n)
                    store.rate_limits.increment("k", 1, 3600.0)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert store.log("t", writer="w").verify() == 200
        assert store.rate_limits.current("k") == 200


def test_a_closed_connection_is_refused(pg_url: str) -> None:
    conn = psycopg.connect(pg_url)
    conn.close()
    with pytest.raises(StoreError, match="closed"):
        agentstore_postgres.open_on_connection(conn)
