"""The versioned schema: created once, recorded, idempotent, newer versions refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agentstore import SchemaVersionError
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
