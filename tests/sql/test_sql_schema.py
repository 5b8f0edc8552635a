"""The versioned schema: created once, recorded, idempotent, newer versions refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agentstore import SchemaVersionError, StoreError, StoreNotFound
from agentstore.sql import (
    SCHEMA_VERSION,
    Backend,
    Dialect,
    ensure_schema,
    require_schema,
    schema_version,
)
from agentstore.sql.schema import META_TABLE, VERSION_KEY, layout_of
from conftest import log_store_class


def _tables(backend: Backend) -> set[str]:
    if backend.dialect is Dialect.SQLITE:
        rows = backend.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = backend.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {str(r[0]) for r in rows}


def _rows_table(backend: Backend) -> str:
    """The table log entries are written to (on SQLite, beside the heads, from version 3)."""
    return layout_of(backend).log_table


def _idx(backend: Backend, value: int | None = None) -> str:
    """PostgreSQL's rows also take ``idx`` (their place in the writing transaction)."""
    if backend.dialect is not Dialect.POSTGRES:
        return ""
    return ", idx" if value is None else f", {value}"


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
    assert {_rows_table(backend), "agentstore_generations", "agentstore_rate_limits"} <= tables
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


def _make_v1(backend: Backend, version: int = 1) -> None:
    """A database exactly as ``version`` (1 unless given) of this code left it."""
    from agentstore.sql.schema import CREATE_META

    layout = layout_of(backend)
    with backend.transaction():
        backend.exec(layout.sql(CREATE_META))
        for step in range(1, version + 1):
            for statement in layout.migrations[step]:
                backend.exec(layout.sql(statement))
        backend.exec(
            f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)", (VERSION_KEY, str(version))
        )


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

    _make_v1(backend)
    assert schema_version(backend) == 1
    hashes = _v1_rows(backend, "kept", [b"a", b"b", b"c"])
    _v1_rows(backend, "other", [b"x"])
    # A row version 2 would refuse, stored while nothing stopped it: kept, and reported.
    _v1_rows(backend, "odd", [b"x"])
    backend.exec(
        "UPDATE agentstore_log SET seq = 0 WHERE stream = 'odd' AND writer = 'w' AND seq = 1"
    )

    assert ensure_schema(backend) == SCHEMA_VERSION
    assert ensure_schema(backend) == SCHEMA_VERSION  # idempotent
    assert schema_version(backend) == SCHEMA_VERSION
    heads = backend.query(
        "SELECT stream, seq, content_hash FROM agentstore_log_heads ORDER BY stream"
    )
    assert [(r[0], r[1], bytes(r[2])) for r in heads] == [  # type: ignore[arg-type]
        ("kept", 3, hashes[-1]),
        ("other", 1, heads[1][2]),
    ]
    logs = log_store_class(backend)(backend)
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
    with pytest.raises(StoreError, match=r"(?i)check constraint"):
        backend.exec(
            f"INSERT INTO {_rows_table(backend)} "
            f"(stream, writer, seq, payload, prev_hash, content_hash{_idx(backend)}) "
            f"VALUES ('kept', 'w', -1, ?, NULL, ?{_idx(backend, 1)})",
            (b"p", bytes(32)),
        )


def test_a_version_1_log_with_an_edited_text_seq_gets_its_last_integer_head() -> None:
    # SQLite only: a PostgreSQL seq column takes integers alone.
    from agentstore.errors import ChainBroken
    from agentstore_sqlite.backend import open_memory

    backend = open_memory()
    try:
        _make_v1(backend)
        hashes = _v1_rows(backend, "s", [b"a", b"b", b"c"])
        _v1_rows(backend, "t", [b"x"])
        backend.exec("UPDATE agentstore_log SET seq = 'zz' WHERE stream = 't'")
        backend.exec(
            "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
            "VALUES ('s', 'w', 'zz', ?, ?, ?), ('s', 'w', 2.5, ?, ?, ?)",
            (b"p", hashes[-1], bytes(32), b"q", hashes[1], bytes(32)),
        )
        assert ensure_schema(backend) == SCHEMA_VERSION
        heads = backend.query("SELECT stream, seq, content_hash FROM agentstore_log_heads")
        # Not the text row SQLite sorts last, nor the real 2.5; "t" has no integer row.
        assert heads == [("s", 3, hashes[-1])]
        logs = log_store_class(backend)(backend)
        with pytest.raises(ChainBroken):  # the edited rows are kept and reported
            logs._verify("s", "w")
        backend.exec("DELETE FROM agentstore_log_rows WHERE seq IN ('zz', 2.5)")
        assert logs._append("s", "w", b"d").seq == 4  # the head moves on from 3
        assert logs._verify("s", "w") == 4
    finally:
        backend.close()


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
    assert ensure_schema(backend) == SCHEMA_VERSION
    with pytest.raises(StoreError, match=r"(?i)check constraint"):
        backend.exec(
            f"INSERT INTO {_rows_table(backend)} "
            f"(stream, writer, seq, payload, prev_hash, content_hash{_idx(backend)}) "
            f"VALUES ('kept', 'w', 0, ?, NULL, ?{_idx(backend, 1)})",
            (b"p", bytes(32)),
        )


def test_a_version_2_database_upgrades_keeping_entries_heads_and_their_flaws(
    backend: Backend,
) -> None:
    from agentstore.errors import ChainBroken

    _make_v1(backend, version=2)
    hashes = _v1_rows(backend, "kept", [b"a", b"b", b"c"])
    head = (
        "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) VALUES (?, 'w', ?, ?)"
    )
    backend.exec(head, ("kept", 3, hashes[-1]))
    # A log whose last entry was deleted behind the store's back: its head still says 2.
    short = _v1_rows(backend, "short", [b"x", b"y"])
    backend.exec(head, ("short", 2, short[-1]))
    backend.exec("DELETE FROM agentstore_log WHERE stream = 'short' AND seq = 2")

    assert ensure_schema(backend) == SCHEMA_VERSION
    assert ensure_schema(backend) == SCHEMA_VERSION  # idempotent
    rows = backend.query("SELECT stream, seq FROM agentstore_log ORDER BY stream, seq")
    assert rows == [("kept", 1), ("kept", 2), ("kept", 3), ("short", 1)]
    heads = backend.query("SELECT stream, seq, content_hash FROM agentstore_log_heads")
    assert sorted(heads) == [("kept", 3, hashes[-1]), ("short", 2, short[-1])]  # type: ignore[type-var]
    logs = log_store_class(backend)(backend)
    assert logs._verify("kept", "w") == 3
    with pytest.raises(ChainBroken) as info:
        logs._verify("short", "w")
    assert info.value.seq == 2
    assert logs._append("kept", "w", b"d").seq == 4
    assert logs._append_many("kept", "w", [b"e", b"f"])[-1].seq == 6
    assert logs._verify("kept", "w") == 6
    assert backend.query("SELECT seq FROM agentstore_log_heads WHERE stream = 'kept'") == [(6,)]
    assert backend.query("SELECT count(*) FROM agentstore_log") == [(7,)]


@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        ("UPDATE agentstore_log SET seq = 'x' WHERE seq = 3", "wrong type"),
        ("UPDATE agentstore_log SET seq = 9223372036854775807 WHERE seq = 3", "entry missing"),
        ("UPDATE agentstore_log SET seq = 'head' WHERE seq = 3", None),
    ],
)
def test_a_version_2_row_verify_reports_is_kept_by_the_upgrade(
    sqlite_file_backend: Backend, edit: str, detail: str | None
) -> None:
    from agentstore.errors import ChainBroken

    backend = sqlite_file_backend
    _make_v1(backend, version=2)
    hashes = _v1_rows(backend, "s", [b"a", b"b", b"c"])
    backend.exec(
        "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) "
        "VALUES (?, 'w', 3, ?)",
        ("s", hashes[-1]),
    )
    backend.exec("PRAGMA ignore_check_constraints = ON")
    backend.exec(edit)
    backend.exec("PRAGMA ignore_check_constraints = OFF")
    if detail is None:  # a row keyed like version 3's head rows: refused, nothing changed
        with pytest.raises(SchemaVersionError, match="holds a row at seq 'head'") as info:
            ensure_schema(backend)
        assert "Nothing was changed" in str(info.value)
        assert schema_version(backend) == 2
        backend.exec("DELETE FROM agentstore_log_heads")  # no recorded head: refused all the same
        with pytest.raises(SchemaVersionError, match="holds a row at seq 'head'"):
            ensure_schema(backend)
        return
    assert ensure_schema(backend) == SCHEMA_VERSION
    assert backend.query("SELECT count(*) FROM agentstore_log_rows") == [(4,)]  # 3 + the head
    with pytest.raises(ChainBroken, match=detail) as info:
        log_store_class(backend)(backend)._verify("s", "w")
    assert info.value.seq == 3


@pytest.mark.parametrize(
    "own",
    [
        "CREATE INDEX app_by_hash ON agentstore_log (content_hash)",
        "CREATE TRIGGER app_count AFTER INSERT ON agentstore_log BEGIN SELECT 1; END",
    ],
)
def test_an_upgrade_that_would_drop_an_applications_index_or_trigger_is_refused(
    sqlite_file_backend: Backend, own: str
) -> None:
    backend = sqlite_file_backend
    _make_v1(backend, version=2)
    _v1_rows(backend, "s", [b"a"])
    backend.exec(own)
    with pytest.raises(SchemaVersionError, match=r"app_.*on agentstore_log would be lost") as info:
        ensure_schema(backend)
    assert "Nothing was changed" in str(info.value)
    assert schema_version(backend) == 2
    assert backend.query("SELECT count(*) FROM agentstore_log") == [(1,)]
    name = own.split()[2]
    backend.exec(f"DROP {own.split()[1]} {name}")
    assert ensure_schema(backend) == SCHEMA_VERSION


def test_sqlite_appends_reach_the_largest_seq(sqlite_file_backend: Backend) -> None:

    backend = sqlite_file_backend
    ensure_schema(backend)
    logs = log_store_class(backend)(backend)
    logs._append("s", "w", b"a")
    top = 2**63 - 1
    backend.exec(
        "UPDATE agentstore_log_rows SET seq = ?, prev_hash = zeroblob(32) "
        "WHERE stream = 's' AND writer = 'w' AND seq = 1",
        (top - 2,),
    )
    backend.exec(
        "UPDATE agentstore_log_rows SET payload = ? WHERE stream = 's' AND seq = 'head'",
        (top - 2,),
    )
    fresh = log_store_class(backend)(backend)
    assert fresh._append("s", "w", b"b").seq == top - 1
    assert fresh._append("s", "w", b"c").seq == top
    assert backend.query("SELECT seq FROM agentstore_log_heads") == [(top,)]


# -- opening without create: no DDL at all ---------------------------------------------------


def _objects(backend: Backend) -> set[str]:
    """Every table, view, index and trigger (SQLite) or relation (PostgreSQL) there is."""
    if backend.dialect is Dialect.SQLITE:
        rows = backend.query("SELECT type || ' ' || name FROM sqlite_master")
    else:
        rows = backend.query(
            "SELECT c.relkind::text || ' ' || c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema()"
        )
    return {str(r[0]) for r in rows}


def test_require_schema_finds_no_store_and_creates_nothing(backend: Backend) -> None:
    with pytest.raises(StoreNotFound, match="holds no agentstore store") as info:
        require_schema(backend)
    assert backend.location in str(info.value)
    assert _objects(backend) == set()
    backend.exec("CREATE TABLE t (x INTEGER)")  # an application's own database
    before = _objects(backend)
    with pytest.raises(StoreNotFound):
        require_schema(backend, "the app's file")
    assert _objects(backend) == before


def test_require_schema_reads_a_current_store_and_refuses_a_newer_one(backend: Backend) -> None:
    ensure_schema(backend)
    before = _objects(backend)
    assert require_schema(backend) == SCHEMA_VERSION
    _set_version(backend, str(SCHEMA_VERSION + 1))
    with pytest.raises(SchemaVersionError, match="newer"):
        require_schema(backend)
    assert _objects(backend) == before


def test_require_schema_never_upgrades_an_older_store(backend: Backend) -> None:
    _make_v1(backend)
    before = _objects(backend)
    with pytest.raises(SchemaVersionError) as info:
        require_schema(backend)
    message = str(info.value)
    assert "version 1" in message and "agentstore.open(policy)" in message
    assert _objects(backend) == before
    assert schema_version(backend) == 1


def test_require_schema_reads_the_oldest_version_it_can_without_upgrading(
    backend: Backend,
) -> None:
    oldest = layout_of(backend).readable_from
    _make_v1(backend, oldest)
    before = _objects(backend)
    assert require_schema(backend) == oldest
    assert _objects(backend) == before
    if oldest > 1:
        _set_version(backend, str(oldest - 1))
        with pytest.raises(SchemaVersionError):
            require_schema(backend)
