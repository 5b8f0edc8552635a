"""The versioned schema: created once, recorded, idempotent, newer versions refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agentstore import SchemaVersionError, StoreError
from agentstore.sql import SCHEMA_VERSION, Backend, Dialect, ensure_schema, schema_version
from agentstore.sql.schema import META_TABLE, VERSION_KEY


def _tables(backend: Backend) -> set[str]:
    if backend.dialect is Dialect.SQLITE:
        rows = backend.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = backend.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {str(r[0]) for r in rows}


def _set_version(backend: Backend, version: str) -> None:
    backend.exec(f"UPDATE {META_TABLE} SET value = ? WHERE key = ?", (version, VERSION_KEY))


def test_empty_database_has_version_zero(backend: Backend) -> None:
    assert schema_version(backend) == 0


def test_ensure_schema_creates_prefixed_tables_and_records_the_version(backend: Backend) -> None:
    assert ensure_schema(backend) == SCHEMA_VERSION
    assert schema_version(backend) == SCHEMA_VERSION
    rows = backend.query(f"SELECT value FROM {META_TABLE} WHERE key = ?", (VERSION_KEY,))
    assert rows == [(str(SCHEMA_VERSION),)]
    tables = _tables(backend)
    assert {"agentstore_log", "agentstore_generations", "agentstore_rate_limits"} <= tables
    assert all(t.startswith("agentstore_") for t in tables)


def test_ensure_schema_is_idempotent_and_keeps_data(backend: Backend) -> None:
    ensure_schema(backend)
    backend.exec("INSERT INTO agentstore_generations (name, value) VALUES (?, ?)", ("g", 7))
    before = _tables(backend)
    for _ in range(3):
        assert ensure_schema(backend) == SCHEMA_VERSION
    assert _tables(backend) == before
    assert backend.query("SELECT value FROM agentstore_generations WHERE name = ?", ("g",)) == [
        (7,)
    ]


def test_schema_shares_a_database_with_other_tables(backend: Backend) -> None:
    backend.exec("CREATE TABLE app_orders (id INTEGER PRIMARY KEY, what TEXT)")
    backend.exec("INSERT INTO app_orders (id, what) VALUES (?, ?)", (1, "tea"))
    ensure_schema(backend)
    assert backend.query("SELECT what FROM app_orders") == [("tea",)]


def test_newer_schema_is_refused_naming_both_versions(backend: Backend) -> None:
    ensure_schema(backend)
    newer = SCHEMA_VERSION + 5
    _set_version(backend, str(newer))
    with pytest.raises(SchemaVersionError) as info:
        ensure_schema(backend)
    message = str(info.value)
    assert f"version {newer}" in message
    assert f"version {SCHEMA_VERSION}" in message
    assert backend.location in message
    # refused, not "fixed": the recorded version is untouched
    assert schema_version(backend) == newer


def test_unreadable_version_is_refused(backend: Backend) -> None:
    ensure_schema(backend)
    _set_version(backend, "banana")
    with pytest.raises(SchemaVersionError, match="banana"):
        ensure_schema(backend)


def test_meta_table_without_version_row_is_upgraded(backend: Backend) -> None:
    backend.exec(f"CREATE TABLE {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    assert schema_version(backend) == 0
    assert ensure_schema(backend) == SCHEMA_VERSION
    assert schema_version(backend) == SCHEMA_VERSION


def test_a_second_connection_sees_the_schema(shared_factory: Callable[[], Backend]) -> None:
    first, second = shared_factory(), shared_factory()
    ensure_schema(first)
    assert schema_version(second) == SCHEMA_VERSION
    assert ensure_schema(second) == SCHEMA_VERSION


# -- upgrading a version 1 database ---------------------------------------------------------


def _make_v1(backend: Backend) -> None:
    """A database exactly as version 1 of this code left it."""
    from agentstore.sql.schema import _CREATE_META, MIGRATIONS, _sql

    with backend.transaction():
        backend.exec(_sql(_CREATE_META, backend.dialect))
        for statement in MIGRATIONS[1][backend.dialect]:
            backend.exec(_sql(statement, backend.dialect))
        backend.exec(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, '1')", (VERSION_KEY,))


def _v1_rows(backend: Backend, stream: str, payloads: list[bytes]) -> list[bytes]:
    from agentstore.chain import chain_hash

    prev: bytes | None = None
    hashes = []
    for seq, payload in enumerate(payloads, 1):
        digest = chain_hash(prev, payload)
        backend.exec(
            "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
            "VALUES (?, 'w', ?, ?, ?, ?)",
            (stream, seq, payload, prev, digest),
        )
        hashes.append(digest)
        prev = digest
    return hashes


def test_a_version_1_database_upgrades_and_verifies(backend: Backend) -> None:
    from agentstore.errors import ChainBroken
    from agentstore.sql import SqlLogStore

    _make_v1(backend)
    assert schema_version(backend) == 1
    hashes = _v1_rows(backend, "kept", [b"a", b"b", b"c"])
    _v1_rows(backend, "other", [b"x"])
    # A row version 2 would refuse, stored while nothing stopped it: kept, and reported.
    _v1_rows(backend, "odd", [b"x"])
    backend.exec(
        "UPDATE agentstore_log SET seq = 0 WHERE stream = 'odd' AND writer = 'w' AND seq = 1"
    )

    assert ensure_schema(backend) == 2
    assert ensure_schema(backend) == 2  # idempotent
    assert schema_version(backend) == 2
    assert "agentstore_log_heads" in _tables(backend)
    heads = backend.query(
        "SELECT stream, seq, content_hash FROM agentstore_log_heads ORDER BY stream"
    )
    assert [(r[0], r[1], bytes(r[2])) for r in heads] == [  # type: ignore[arg-type]
        ("kept", 3, hashes[-1]),
        ("other", 1, heads[1][2]),
    ]
    logs = SqlLogStore(backend)
    assert list(logs._logs()) == [("kept", "w"), ("odd", "w"), ("other", "w")]
    assert logs._verify("kept", "w") == 3
    assert logs._verify("other", "w") == 1
    with pytest.raises(ChainBroken) as info:
        logs._verify("odd", "w")
    assert info.value.seq == 1
    # The upgraded log takes appends, moves its head, and refuses malformed rows.
    assert logs._append("kept", "w", b"d").seq == 4
    assert logs._verify("kept", "w") == 4
    assert backend.query(
        "SELECT seq FROM agentstore_log_heads WHERE stream = 'kept' AND writer = 'w'"
    ) == [(4,)]
    with pytest.raises(StoreError):
        backend.exec(
            "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
            "VALUES ('kept', 'w', -1, ?, NULL, ?)",
            (b"p", bytes(32)),
        )


def test_a_failed_upgrade_changes_nothing(backend: Backend) -> None:
    _make_v1(backend)
    _v1_rows(backend, "kept", [b"a", b"b"])
    # Something in the way of the upgrade: a table of the name version 2 creates.
    backend.exec("CREATE TABLE agentstore_log_heads (x INTEGER)")
    with pytest.raises(StoreError):
        ensure_schema(backend)
    assert schema_version(backend) == 1
    assert backend.query("SELECT count(*) FROM agentstore_log") == [(2,)]
    # Still version 1's table: no CHECK refuses a seq of 0 (and no checks were left off).
    backend.exec(
        "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
        "VALUES ('kept', 'w', 0, ?, NULL, ?)",
        (b"p", bytes(32)),
    )
    backend.exec("DROP TABLE agentstore_log_heads")
    backend.exec("DELETE FROM agentstore_log WHERE seq = 0")
    assert ensure_schema(backend) == 2
    with pytest.raises(StoreError):
        backend.exec(
            "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
            "VALUES ('kept', 'w', 0, ?, NULL, ?)",
            (b"p", bytes(32)),
        )
