"""Upgrading a version 3 SQLite file to version 4: positions in the existing order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from agentstore import SchemaVersionError
from agentstore.chain import chain_hash
from agentstore.sql import SCHEMA_VERSION
from agentstore.sql.schema import CREATE_META
from agentstore_sqlite.schema import SQLITE_LAYOUT
from sqlite_helpers import open_file_store

# The order entries are written in: logs interleaved, as an application writes them.
WRITES = [("b", "w"), ("a", "w"), ("a", "x"), ("b", "w"), ("a", "w"), ("a", "x"), ("a", "w")]


def make_v3(db: Path, writes: list[tuple[str, str]]) -> None:
    """A version 3 file, as the previous release wrote it: its DDL, then each entry
    appended through its one-statement append view (which moves the head row)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(SQLITE_LAYOUT.sql(CREATE_META))
    for version in (1, 2, 3):
        for statement in SQLITE_LAYOUT.migrations[version]:
            conn.execute(SQLITE_LAYOUT.sql(statement))
    conn.execute("INSERT INTO agentstore_meta (key, value) VALUES ('schema_version', '3')")
    heads: dict[tuple[str, str], tuple[int, bytes | None]] = {}
    for stream, writer in writes:
        seq, prev = heads.get((stream, writer), (0, None))
        payload = f"{stream}/{writer}/{seq + 1}".encode()
        digest = chain_hash(prev, payload)
        conn.execute(
            "INSERT INTO agentstore_log_append "
            "(stream, writer, seq, payload, prev_hash, content_hash) VALUES (?, ?, ?, ?, ?, ?)",
            (stream, writer, seq + 1, payload, prev, digest),
        )
        heads[(stream, writer)] = (seq + 1, digest)
    conn.close()


def _version(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT value FROM agentstore_meta").fetchone()[0])
    finally:
        conn.close()


def test_a_version_3_file_upgrades_with_positions_in_existing_order(db: Path) -> None:
    make_v3(db, WRITES)
    assert _version(db) == "3"
    with open_file_store(db) as store:
        assert _version(db) == "4"
        expected = sorted({(s, w, n) for s, w, n in _numbered(WRITES)})  # (stream, writer, seq)
        events = list(store.feed())
        assert [(e.stream, e.writer, e.seq) for e in events] == expected
        assert [e.position for e in events] == list(range(1, len(WRITES) + 1))
        assert store.position() == len(WRITES)
        for stream, writer in {(s, w) for s, w in WRITES}:
            log = store.log(stream, writer=writer)
            entries = list(log.entries())
            assert [e.payload for e in entries] == [
                f"{stream}/{writer}/{n}".encode() for n in range(1, len(entries) + 1)
            ]
            assert all(not e.redacted for e in entries)
            assert log.verify() == len(entries)
        # appends continue after the upgraded rows, and a stream reads across its writers
        new = store.log("a", writer="x").append(b"after the upgrade")
        assert (new.seq, new.position) == (3, len(WRITES) + 1)
        assert [(e.writer, e.seq) for e in store.stream("a").entries()] == [
            ("w", 1),
            ("w", 2),
            ("w", 3),
            ("x", 1),
            ("x", 2),
            ("x", 3),
        ]
    # the head rows carry no position; every entry row one
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT seq, position FROM agentstore_log_rows").fetchall()
    finally:
        conn.close()
    assert sorted(p for s, p in rows if s != "head") == list(range(1, len(WRITES) + 2))
    assert {p for s, p in rows if s == "head"} == {None}


def test_a_long_version_3_log_upgrades_to_dense_positions(db: Path) -> None:
    writes = [("s", f"w{i % 7}") for i in range(3000)]
    make_v3(db, writes)
    with open_file_store(db) as store:
        positions = [e.position for e in store.feed()]
        assert positions == list(range(1, 3001))
        assert store.log("s", writer="w3").verify() == 3000 // 7 + (3 < 3000 % 7)
        assert store.log("s", writer="w0").append(b"x").position == 3001


def test_upgrading_is_idempotent_and_a_second_open_changes_nothing(db: Path) -> None:
    make_v3(db, WRITES)
    with open_file_store(db) as store:
        first = list(store.feed())
    with open_file_store(db) as store:
        assert list(store.feed()) == first


def test_an_application_trigger_on_the_entries_view_refuses_the_upgrade(db: Path) -> None:
    make_v3(db, WRITES)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE app_audit (n INTEGER)")
    conn.execute(
        "CREATE TRIGGER app_on_log INSTEAD OF INSERT ON agentstore_log BEGIN "
        "INSERT INTO app_audit VALUES (1); END"
    )
    conn.close()
    with pytest.raises(SchemaVersionError, match="trigger 'app_on_log' on the view agentstore_log"):
        open_file_store(db)
    assert _version(db) == "3"  # nothing was changed


def test_a_new_store_is_written_at_version_4(db: Path) -> None:
    with open_file_store(db) as store:
        assert store.log("s", writer="w").append(b"x").position == 1
    assert _version(db) == str(SCHEMA_VERSION) == "4"


def _numbered(writes: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    counts: dict[tuple[str, str], int] = {}
    out = []
    for key in writes:
        counts[key] = counts.get(key, 0) + 1
        out.append((*key, counts[key]))
    return out
