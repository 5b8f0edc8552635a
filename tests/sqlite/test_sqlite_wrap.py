"""open_on_connection: the store on a sqlite3 connection the application already owns."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from agentstore import InvalidInput, SessionId, StoreError
from agentstore_sqlite import open_on_connection
from sqlite_helpers import open_file_store


def _other_connection_sees(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT count(*) FROM agentstore_log").fetchall()
    finally:
        conn.close()
    return int(rows[0][0])


def test_store_and_application_share_one_file(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    conn.execute("INSERT INTO orders (item) VALUES ('tea')")
    with open_on_connection(conn) as store:
        log = store.log("orders", writer="api")
        log.append(b"created 1")
        store.generation("g").bump()
        assert _other_connection_sees(db) == 1
    # closing the store left the application's connection open and its data alone
    assert conn.execute("SELECT item FROM orders").fetchall() == [("tea",)]
    conn.close()
    with open_file_store(db) as store:
        assert store.log("orders", writer="api").verify() == 1
        assert store.generation("g").current() == 1


def test_legacy_transaction_mode_still_commits_each_call(tmp_path: Path) -> None:
    db = tmp_path / "legacy.db"
    conn = sqlite3.connect(db)  # isolation_level "": sqlite3 opens transactions itself
    try:
        store = open_on_connection(conn)
        store.log("s", writer="w").append(b"one")
        store.log("s", writer="w").append_many([b"two", b"three"])
        store.rate_limits.increment("k")
        assert not conn.in_transaction
        assert _other_connection_sees(db) == 3
        store.close()
    finally:
        conn.close()


def test_an_open_application_transaction_is_not_committed_by_the_store(tmp_path: Path) -> None:
    db = tmp_path / "tx.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("CREATE TABLE notes (body TEXT)")
        store = open_on_connection(conn)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO notes VALUES ('draft')")
        with pytest.raises(StoreError, match="transaction open"):
            store.log("s", writer="w").append(b"x")
        with pytest.raises(StoreError, match="transaction open"):
            store.generation("g").bump()
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT count(*) FROM notes").fetchall() == [(0,)]
        assert store.log("s", writer="w").append(b"x").seq == 1
        store.close()
    finally:
        conn.close()


def test_wrapping_an_in_memory_connection(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        store = open_on_connection(conn)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(50):
                    store.log("s", writer="w").append(b"x")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.log("s", writer="w").verify() == 200
        assert conn.execute("SELECT count(*) FROM agentstore_log").fetchall() == [(200,)]
        store.close()
    finally:
        conn.close()


def test_wrapping_something_else_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"sqlite3\.Connection"):
        open_on_connection("app.db")  # type: ignore[arg-type]


def test_wrapping_a_closed_connection_is_refused() -> None:
    conn = sqlite3.connect(":memory:")
    conn.close()
    with pytest.raises(InvalidInput, match="not usable"):
        open_on_connection(conn)


def test_handles_held_across_close_refuse_and_the_connection_stays_open(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        store = open_on_connection(conn)
        log = store.log("s", writer="w")
        gen = store.generation("g")
        sessions = store.sessions
        log.append(b"before")
        store.close()
        for late in (
            lambda: log.append(b"late"),
            lambda: log.append_many([b"late"]),
            log.verify,
            gen.bump,
            gen.current,
            lambda: list(log.entries()),
            lambda: sessions.delete(SessionId.new()),
        ):
            with pytest.raises(StoreError, match="store is closed"):
                late()
        # the application's connection is still open and usable, and nothing was written
        assert conn.execute("SELECT count(*) FROM agentstore_log").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM agentstore_generations").fetchone()[0] == 0
    finally:
        conn.close()


def test_the_old_name_wrap_connection_still_works_and_warns(tmp_path: Path) -> None:
    import agentstore_sqlite.driver

    conn = sqlite3.connect(tmp_path / "app.db", isolation_level=None)
    try:
        for old in (agentstore_sqlite.wrap_connection, agentstore_sqlite.driver.wrap_connection):
            with (
                pytest.warns(DeprecationWarning, match="renamed open_on_connection"),
                old(conn) as store,
            ):
                store.log("s", writer="w").append(b"x")
        with agentstore_sqlite.open_on_connection(conn) as store:
            assert store.log("s", writer="w").verify() == 2
    finally:
        conn.close()
