"""The versioned schema of the SQL substrate.

Every table is prefixed ``agentstore_`` so the store can share a database with an
application's own tables. The version lives in ``agentstore_meta`` (key
``schema_version``). :func:`ensure_schema` creates or upgrades the tables and is
idempotent; a database whose schema is newer than this code is refused, never used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from agentstore.errors import SchemaVersionError
from agentstore.sql.backend import Backend, Dialect

SCHEMA_VERSION: Final = 1
"""The schema version this code writes and understands."""

META_TABLE: Final = "agentstore_meta"
VERSION_KEY: Final = "schema_version"

# Column types per dialect. ``name`` columns compare and sort by code point in both.
_TYPES: Final[Mapping[Dialect, Mapping[str, str]]] = {
    Dialect.SQLITE: {
        "int": "INTEGER",
        "blob": "BLOB",
        "real": "REAL",
        "text": "TEXT",
        "name": "TEXT",
    },
    Dialect.POSTGRES: {
        "int": "BIGINT",
        "blob": "BYTEA",
        "real": "DOUBLE PRECISION",
        "text": "TEXT",
        "name": 'TEXT COLLATE "C"',
    },
}

_TABLE_EXISTS: Final[Mapping[Dialect, str]] = {
    Dialect.SQLITE: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    # The catalogs directly: information_schema costs a fresh connection ~2 ms more.
    Dialect.POSTGRES: (
        "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
        "AND c.relkind IN ('r', 'p') AND c.relname = ?"
    ),
}

# Serialises concurrent first opens where taking the write lock does not (PostgreSQL DDL).
_SCHEMA_LOCK: Final[Mapping[Dialect, str | None]] = {
    Dialect.SQLITE: None,  # BEGIN IMMEDIATE already excludes other writers
    Dialect.POSTGRES: "SELECT pg_advisory_xact_lock(7261746)",
}

_CREATE_META: Final = (
    f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key {{text}} PRIMARY KEY, value {{text}} NOT NULL)"
)

# MIGRATIONS[n] takes a database from version n - 1 to n; version 0 is an empty database.
MIGRATIONS: Final[Mapping[int, Sequence[str]]] = {
    1: (
        "CREATE TABLE agentstore_generations (name {name} PRIMARY KEY, value {int} NOT NULL)",
        "CREATE TABLE agentstore_log ("
        "stream {name} NOT NULL, writer {name} NOT NULL, seq {int} NOT NULL, "
        "payload {blob} NOT NULL, prev_hash {blob}, content_hash {blob} NOT NULL, "
        "PRIMARY KEY (stream, writer, seq))",
        "CREATE TABLE agentstore_policies (agent_id {text} PRIMARY KEY, document {text} NOT NULL)",
        "CREATE TABLE agentstore_sessions ("
        "session_id {text} PRIMARY KEY, agent_id {text} NOT NULL, data {text} NOT NULL)",
        "CREATE TABLE agentstore_credentials (name {name} PRIMARY KEY, value {blob} NOT NULL)",
        "CREATE TABLE agentstore_rate_limits ("
        "key {name} PRIMARY KEY, window_end {real} NOT NULL, count {int} NOT NULL)",
        "CREATE TABLE agentstore_agents ("
        "agent_id {text} PRIMARY KEY, registered_at {real} NOT NULL, "
        "last_heartbeat {real} NOT NULL)",
        "CREATE INDEX agentstore_agents_heartbeat ON agentstore_agents (last_heartbeat)",
    ),
}

_READ_VERSION: Final = f"SELECT value FROM {META_TABLE} WHERE key = ?"
_WRITE_VERSION: Final = (
    f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def _sql(template: str, dialect: Dialect) -> str:
    return template.format_map(_TYPES[dialect])


def schema_version(backend: Backend) -> int:
    """The schema version recorded in the database; 0 when it holds no agentstore tables.

    Raises:
        SchemaVersionError: the recorded version is not a number.
    """
    if not backend.query(_TABLE_EXISTS[backend.dialect], (META_TABLE,)):
        return 0
    rows = backend.query(_READ_VERSION, (VERSION_KEY,))
    if not rows:
        return 0
    raw = rows[0][0]
    try:
        version = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaVersionError(
            f"{backend.location}: {META_TABLE}.{VERSION_KEY} holds {raw!r}, not a version "
            "number; this database was not written by agentstore"
        ) from None
    return version


def _refuse_newer(backend: Backend, found: int) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{backend.location}: the database has agentstore schema version {found}, newer "
            f"than this agentstore-core understands (version {SCHEMA_VERSION}); upgrade "
            "agentstore-core to use it. Nothing was changed."
        )


def ensure_schema(backend: Backend) -> int:
    """Create or upgrade the agentstore tables; return the schema version (always current).

    Idempotent and safe to run from several processes at once: the upgrade runs in one
    transaction under the write lock and re-reads the version inside it.

    Raises:
        SchemaVersionError: the database's schema is newer than :data:`SCHEMA_VERSION`
            (naming both versions); nothing is changed.
    """
    found = schema_version(backend)  # a read: the common case takes no write lock
    _refuse_newer(backend, found)
    if found == SCHEMA_VERSION:
        return found
    dialect = backend.dialect
    with backend.transaction():
        lock = _SCHEMA_LOCK[dialect]
        if lock is not None:
            backend.query(lock)
        backend.exec(_sql(_CREATE_META, dialect))
        found = schema_version(backend)
        _refuse_newer(backend, found)
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                backend.exec(_sql(statement, dialect))
        if found != SCHEMA_VERSION:
            backend.exec(_WRITE_VERSION, (VERSION_KEY, str(SCHEMA_VERSION)))
    return SCHEMA_VERSION


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "ensure_schema", "schema_version"]
