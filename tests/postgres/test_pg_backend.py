"""The psycopg Backend on the real server: placeholders, transactions, streaming, errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from agentstore import BackendUnavailable, Conflict, StoreError
from agentstore.sql.backend import Backend, Dialect
from agentstore_postgres.backend import PostgresBackend, translate_sql
from agentstore_postgres.config import PostgresConfig
from agentstore_postgres.connect import on_connection, open_pool


@pytest.fixture
def config(pg_url: str, pg_schema: str) -> PostgresConfig:
    return PostgresConfig(url=pg_url, schema=pg_schema, pool_max_size=4)


@pytest.fixture
def backend(config: PostgresConfig) -> Iterator[PostgresBackend]:
    b = open_pool(config)
    b.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT, b BYTEA)")
    try:
        yield b
    finally:
        b.close()


def test_placeholders_are_translated() -> None:
    assert translate_sql("SELECT ? , ?") == "SELECT %s , %s"
    assert translate_sql("SELECT '?', \"a?\", ? WHERE x LIKE 'a%'") == (
        "SELECT '?', \"a?\", %s WHERE x LIKE 'a%%'"
    )
    assert translate_sql("SELECT 5 % 3") == "SELECT 5 %% 3"


def test_it_is_a_backend(backend: PostgresBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.dialect is Dialect.POSTGRES


def test_exec_query_roundtrip_in_the_store_schema(
    backend: PostgresBackend, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    assert backend.exec("INSERT INTO t VALUES (?, ?, ?)", ("a", 1, b"\x00\xff")) == 1
    backend.exec_many("INSERT INTO t VALUES (?, ?, ?)", [("b", 2, None), ("c", 3, b"")])
    rows = backend.query("SELECT k, v, b FROM t WHERE v >= ? ORDER BY k", (1,))
    assert rows == [("a", 1, b"\x00\xff"), ("b", 2, None), ("c", 3, b"")]
    assert all(isinstance(r[2], bytes | None) for r in rows)
    # The table lives in the store's schema, not in public.
    found = pg_conn.execute(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 't'"
        " AND table_schema = %s",
        (pg_schema,),
    ).fetchall()
    assert found == [(pg_schema,)]


def test_transaction_commits_whole_or_not_at_all(backend: PostgresBackend) -> None:
    with backend.transaction():
        backend.exec("INSERT INTO t VALUES ('x', 1, NULL)")
        backend.exec("UPDATE t SET v = v + 1 WHERE k = 'x'")
    assert backend.query("SELECT v FROM t WHERE k = 'x'") == [(2,)]
    with pytest.raises(RuntimeError), backend.transaction():
        backend.exec("INSERT INTO t VALUES ('y', 1, NULL)")
        raise RuntimeError("boom")
    assert backend.query("SELECT count(*) FROM t WHERE k = 'y'") == [(0,)]


def test_exec_many_outside_a_transaction_is_atomic(backend: PostgresBackend) -> None:
    with pytest.raises(Conflict):
        backend.exec_many("INSERT INTO t VALUES (?, ?, NULL)", [("p", 1), ("q", 2), ("p", 3)])
    assert backend.query("SELECT count(*) FROM t") == [(0,)]


def test_a_transaction_belongs_to_its_thread(backend: PostgresBackend) -> None:
    inside = threading.Event()
    checked = threading.Event()
    seen: list[object] = []

    def other() -> None:
        inside.wait(5)
        # Neither sees the open transaction's row nor joins the transaction.
        seen.append(backend.query("SELECT count(*) FROM t"))
        backend.exec("INSERT INTO t VALUES ('other', 1, NULL)")
        checked.set()

    thread = threading.Thread(target=other)
    thread.start()
    with pytest.raises(RuntimeError), backend.transaction():
        backend.exec("INSERT INTO t VALUES ('mine', 1, NULL)")
        inside.set()
        assert checked.wait(5)
        raise RuntimeError("roll mine back")
    thread.join(5)
    assert seen == [[(0,)]]
    assert backend.query("SELECT k FROM t") == [("other",)]


def test_a_conflict_aborts_the_transaction_and_a_retry_starts_afresh(
    backend: PostgresBackend,
) -> None:
    backend.exec("INSERT INTO t VALUES ('k', 1, NULL)")
    with pytest.raises(Conflict), backend.transaction():
        backend.exec("INSERT INTO t VALUES ('before', 1, NULL)")
        with backend.transaction():  # nested: joins the outer transaction
            backend.exec("INSERT INTO t VALUES ('k', 2, NULL)")
    # Everything in the aborted transaction is gone; a new one works at once.
    assert backend.query("SELECT k FROM t ORDER BY k") == [("k",)]
    with backend.transaction():
        backend.exec("INSERT INTO t VALUES ('retry', 1, NULL)")
    assert backend.query("SELECT k FROM t ORDER BY k") == [("k",), ("retry",)]


def test_unique_violation_is_conflict_with_cause_and_no_values(backend: PostgresBackend) -> None:
    backend.exec("INSERT INTO t VALUES ('dup-value-xyz', 1, NULL)")
    with pytest.raises(Conflict) as info:
        backend.exec("INSERT INTO t VALUES ('dup-value-xyz', 2, NULL)")
    assert isinstance(info.value.__cause__, psycopg.errors.UniqueViolation)
    assert "23505" in str(info.value)
    assert "dup-value-xyz" not in str(info.value)  # DETAIL would quote the key


def test_other_failures_are_store_errors(backend: PostgresBackend) -> None:
    with pytest.raises(StoreError) as info:
        backend.query("SELECT * FROM no_such_table")
    assert not isinstance(info.value, Conflict | BackendUnavailable)
    assert isinstance(info.value.__cause__, psycopg.errors.UndefinedTable)
    assert "no_such_table" in str(info.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens once the socket is closed


def test_unreachable_server_names_host_and_port_within_timeout(pg_schema: str) -> None:
    port = _closed_port()
    config = PostgresConfig(
        url=f"postgresql://alice:hunter2-secret@127.0.0.1:{port}/db",
        schema=pg_schema,
        connect_timeout=2,
    )
    start = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        open_pool(config)
    assert time.monotonic() - start < 3
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "hunter2-secret" not in str(info.value)
    assert isinstance(info.value.__cause__, psycopg.OperationalError)


def test_a_shared_application_connection(
    pg_url: str, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    pg_conn.execute(f"CREATE SCHEMA {pg_schema}")
    pg_conn.execute(f"SET search_path = {pg_schema}")
    app = psycopg.connect(pg_url)  # not autocommit: the application's habit
    app.execute(f"SET search_path = {pg_schema}")
    app.commit()
    backend = on_connection(app)
    try:
        backend.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT)")
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    with backend.transaction():
                        backend.exec("INSERT INTO t VALUES (?, ?)", (f"{n}-{i}", i))
                        backend.exec("UPDATE t SET v = v + 1 WHERE k = ?", (f"{n}-{i}",))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(10)
        assert errors == []
        # Committed, visible to another session, the application's connection left idle.
        assert pg_conn.execute("SELECT count(*), sum(v) FROM t").fetchone() == (80, 4 * 210)
        assert app.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        rows = backend.query("SELECT v FROM t WHERE k LIKE '0-%' ORDER BY v")
        assert [r[0] for r in rows] == list(range(1, 21))
    finally:
        backend.close()
        assert not app.closed  # the store never closes the application's connection
        app.close()
