"""The substrate's one extension point for where tables live: a backend's SchemaLayout.

The core holds the portable substrate; SQLite's layout lives in agentstore-sqlite.
"""

from __future__ import annotations

import re
from pathlib import Path

import agentstore.sql
import pytest
from agentstore import SchemaVersionError
from agentstore.sql import SqlLogStore, ensure_schema, require_schema
from agentstore.sql.backend import Backend, Dialect
from agentstore.sql.schema import (
    CREATE_HEADS,
    CREATE_META,
    DEFAULT_LAYOUT,
    FILL_HEADS,
    V1,
    SchemaLayout,
    layout_of,
)
from agentstore_sqlite.backend import SqliteBackend, open_file
from agentstore_sqlite.schema import SQLITE_LAYOUT, SQLITE_TYPES

_CORE_SQL = Path(agentstore.sql.__file__).parent

# A third party's layout on SQLite: entries and heads in tables of their own, as on the
# default layout, with SQLite's types and catalog.
_PLAIN = SchemaLayout(
    types=SQLITE_TYPES,
    migrations={1: V1, 2: (CREATE_HEADS, FILL_HEADS), 3: ()},
    readable_from=2,
    table_exists="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
)


class _PlainBackend(SqliteBackend):
    schema_layout = _PLAIN  # type: ignore[misc]


class _UnnamedSqlite(SqliteBackend):
    """A SQLite backend written before backends named their layout."""

    schema_layout = None  # type: ignore[misc,assignment]


def _reopen(cls: type[SqliteBackend], path: Path) -> SqliteBackend:
    base = open_file(path)
    base.__class__ = cls
    return base


def test_the_core_holds_no_sqlite_only_statement() -> None:
    source = "\n".join(p.read_text() for p in sorted(_CORE_SQL.glob("*.py")))
    for sqlite_only in ("sqlite_master", "PRAGMA", "WITHOUT ROWID", "agentstore_log_rows"):
        assert sqlite_only not in source, sqlite_only
    # PostgreSQL's one-statement appends live in agentstore-postgres, which overrides them.
    assert not re.search(r"WITH ins AS", source)


def test_each_shipped_backend_names_its_layout(tmp_path: Path) -> None:
    backend = open_file(tmp_path / "a.db")
    try:
        assert layout_of(backend) is SQLITE_LAYOUT
    finally:
        backend.close()


def test_a_backend_naming_its_own_layout_gets_it_and_the_portable_log_writes(
    tmp_path: Path,
) -> None:
    backend = _reopen(_PlainBackend, tmp_path / "plain.db")
    try:
        assert layout_of(backend) is _PLAIN
        ensure_schema(backend)
        tables = {
            str(r[0]) for r in backend.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert {"agentstore_log", "agentstore_log_heads"} <= tables
        assert "agentstore_log_rows" not in tables
        logs = SqlLogStore(backend)
        logs._append("s", "w", b"one")
        logs._append_many("s", "w", [b"two", b"three"])
        assert logs._verify("s", "w") == 3
        assert backend.query("SELECT seq FROM agentstore_log_heads") == [(3,)]
        assert logs.logs() == [("s", "w")]
    finally:
        backend.close()


def test_the_portable_append_moves_the_head_with_its_entry_or_not_at_all(
    tmp_path: Path,
) -> None:
    backend = _reopen(_PlainBackend, tmp_path / "plain.db")
    try:
        ensure_schema(backend)
        logs = SqlLogStore(backend)
        logs._append("s", "w", b"one")
        # The head move fails after the entry is written: neither may stay.
        backend.exec(
            "CREATE TRIGGER refuse_head BEFORE UPDATE ON agentstore_log_heads "
            "BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        with pytest.raises(agentstore.StoreError):
            logs._append("s", "w", b"two")
        assert backend.query("SELECT count(*) FROM agentstore_log") == [(1,)]
        assert backend.query("SELECT seq FROM agentstore_log_heads") == [(1,)]
    finally:
        backend.close()


def test_a_layout_is_read_for_require_schema(tmp_path: Path) -> None:
    backend = _reopen(_PlainBackend, tmp_path / "plain.db")
    try:
        ensure_schema(backend)
        assert require_schema(backend) == agentstore.sql.SCHEMA_VERSION
        backend.exec("UPDATE agentstore_meta SET value = '1'")
        with pytest.raises(SchemaVersionError, match="older than this code reads"):
            require_schema(backend)
    finally:
        backend.close()


def test_a_sqlite_backend_naming_no_layout_still_gets_sqlites(tmp_path: Path) -> None:
    backend = _reopen(_UnnamedSqlite, tmp_path / "old.db")
    try:
        assert backend.dialect is Dialect.SQLITE
        assert layout_of(backend) is SQLITE_LAYOUT
    finally:
        backend.close()


def test_a_postgres_dialect_backend_naming_no_layout_gets_the_default() -> None:
    class Unnamed:
        dialect = Dialect.POSTGRES

    assert layout_of(Unnamed()) is DEFAULT_LAYOUT  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("HEAD_SEQ", "head"),
        ("MOVE_HEAD_ROW", SQLITE_LAYOUT.move_head),
        (
            "READABLE_FROM",
            {Dialect.SQLITE: 3, Dialect.POSTGRES: 2},
        ),
    ],
)
def test_the_moved_names_still_import_with_a_deprecation_warning(
    name: str, expected: object
) -> None:
    from agentstore.sql import schema

    with pytest.warns(DeprecationWarning, match=name):
        assert getattr(schema, name) == expected


def test_the_moved_migrations_still_build_each_dialects_schema() -> None:
    from agentstore.sql import schema

    with pytest.warns(DeprecationWarning, match="MIGRATIONS"):
        migrations = schema.MIGRATIONS
    for version in (1, 2, 3):
        assert migrations[version][Dialect.SQLITE] == SQLITE_LAYOUT.migrations[version]
        assert migrations[version][Dialect.POSTGRES] == DEFAULT_LAYOUT.migrations[version]
    with pytest.raises(AttributeError):
        _ = schema.NOT_A_NAME


def test_a_layouts_before_upgrade_refuses_and_changes_nothing(tmp_path: Path) -> None:
    class Refusing(SchemaLayout):
        def before_upgrade(self, backend: Backend, found: int) -> None:
            raise SchemaVersionError(f"refused from {found}")

    refusing = Refusing(**{f: getattr(_PLAIN, f) for f in _PLAIN.__dataclass_fields__})

    class RefusingBackend(SqliteBackend):
        schema_layout = refusing  # type: ignore[misc]

    backend = _reopen(_PlainBackend, tmp_path / "r.db")
    try:
        with backend.transaction():
            backend.exec(_PLAIN.sql(CREATE_META))
            for statement in V1:
                backend.exec(_PLAIN.sql(statement))
            backend.exec("INSERT INTO agentstore_meta (key, value) VALUES ('schema_version', '1')")
        backend.__class__ = RefusingBackend
        with pytest.raises(SchemaVersionError, match="refused from 1"):
            ensure_schema(backend)
        assert backend.query("SELECT value FROM agentstore_meta") == [("1",)]
    finally:
        backend.close()


def test_a_dialect_with_no_known_layout_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentstore.sql import schema

    monkeypatch.delitem(schema._BY_DIALECT, Dialect.SQLITE)
    backend = _reopen(_UnnamedSqlite, tmp_path / "old.db")
    try:
        with pytest.raises(agentstore.StoreError, match="schema_layout") as info:
            ensure_schema(backend)
        assert "agentstore_sqlite.schema" in str(info.value)
    finally:
        backend.close()
