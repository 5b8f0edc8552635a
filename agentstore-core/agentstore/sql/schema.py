"""The versioned schema of the SQL substrate.

Every table is prefixed ``agentstore_`` so the store can share a database with an
application's own tables. The version lives in ``agentstore_meta`` (key
``schema_version``). :func:`ensure_schema` creates or upgrades the tables and is
idempotent; a database whose schema is newer than this code is refused, never used.

Version 2 makes the log's shape a database rule and records each log's head:
``agentstore_log`` refuses a ``seq`` below 1, a hash that is not 32 bytes, and a
``prev_hash`` present at seq 1 or missing after it; ``agentstore_log_heads`` holds the
``(seq, content_hash)`` of every log's last appended entry, moved forward (never back) in
the same statement or transaction as every append; a row put into ``agentstore_log``
behind the store's back does not move it, so ``verify`` reports such a row. Upgrading a
version 1 database keeps its rows exactly as stored,
even ones the new rules would refuse (``verify`` judges those), and records as each
log's head its last stored entry.

Version 3 (SQLite only; PostgreSQL is unchanged) keeps each log's recorded head beside its
entries: entries and heads are rows of one table, ``agentstore_log_rows``, a head being the
row at ``seq`` :data:`HEAD_SEQ` of its log (its ``payload`` holds the head's seq). The head
row sorts right after the log's newest entry, so an append writes one b-tree page where a
separate heads table made it write two. A head row is never deleted or re-keyed (triggers
refuse it), so deleting a range of seqs, or a whole log, fails rather than taking the head
with it. ``agentstore_log`` and ``agentstore_log_heads`` become read-only views of the
entries and of the heads, so queries written against version 2 read the same; writes go
to ``agentstore_log_rows``. Upgrading keeps every stored row, and refuses (changing
nothing) while an application's own index or trigger sits on a table that becomes a view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from agentstore.errors import SchemaVersionError, StoreNotFound
from agentstore.sql.backend import Backend, Dialect

SCHEMA_VERSION: Final = 3
"""The schema version this code writes and understands."""

READABLE_FROM: Final[Mapping[Dialect, int]] = {Dialect.SQLITE: 3, Dialect.POSTGRES: 2}
"""The oldest schema version this code reads as it stands (PostgreSQL's version 3 only
renumbered SQLite's layout); an older one must be upgraded by an open that may create."""

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
        "octets": "length",
        "hot_updates": "",
    },
    Dialect.POSTGRES: {
        "int": "BIGINT",
        "blob": "BYTEA",
        "real": "DOUBLE PRECISION",
        "text": "TEXT",
        "name": 'TEXT COLLATE "C"',
        "octets": "octet_length",
        # Room on each page lets a head's update stay on its page (no index write).
        "hot_updates": " WITH (fillfactor = 50)",
    },
}

_TABLE_EXISTS: Final[Mapping[Dialect, str]] = {
    Dialect.SQLITE: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    # The catalogs directly: information_schema is slower to query on a fresh connection.
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

_V1: Final = (
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
)

# The rules every log row written from version 2 on must keep.
_LOG_CHECKS: Final = (
    "CONSTRAINT agentstore_log_seq_positive CHECK (seq >= 1)",
    "CONSTRAINT agentstore_log_hash_size CHECK ({octets}(content_hash) = 32 "
    "AND (prev_hash IS NULL OR {octets}(prev_hash) = 32))",
    "CONSTRAINT agentstore_log_genesis CHECK ((seq = 1) = (prev_hash IS NULL))",
)

_CREATE_HEADS: Final = (
    "CREATE TABLE agentstore_log_heads ("
    "stream {name} NOT NULL, writer {name} NOT NULL, seq {int} NOT NULL, "
    "content_hash {blob} NOT NULL, PRIMARY KEY (stream, writer), "
    "CONSTRAINT agentstore_log_heads_seq_positive CHECK (seq >= 1), "
    "CONSTRAINT agentstore_log_heads_hash_size CHECK ({octets}(content_hash) = 32))"
    "{hot_updates}"
)

# Moves a log's recorded head forward, never back.
_MOVE_HEAD: Final = (
    "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (stream, writer) DO UPDATE SET seq = excluded.seq, "
    "content_hash = excluded.content_hash WHERE excluded.seq > agentstore_log_heads.seq"
)
MOVE_HEAD: Final = _MOVE_HEAD

# Each existing log's head is its last stored row with an integer seq (the best a version
# 1 database knows; SQLite would sort an edited text seq after every integer).
_FILL_HEADS: Final = (
    "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) "
    "SELECT l.stream, l.writer, l.seq, l.content_hash FROM agentstore_log l "
    "WHERE l.seq >= 1 AND {octets}(l.content_hash) = 32 AND l.seq = ("
    "SELECT max(m.seq) FROM agentstore_log m "
    "WHERE m.stream = l.stream AND m.writer = l.writer AND m.seq = CAST(m.seq AS {int}))"
)

_V2_SQLITE: Final = (
    # SQLite adds a CHECK only by rebuilding the table; the copy keeps every row as it is.
    "CREATE TABLE agentstore_log_v2 ("
    "stream {name} NOT NULL, writer {name} NOT NULL, seq {int} NOT NULL, "
    "payload {blob} NOT NULL, prev_hash {blob}, content_hash {blob} NOT NULL, "
    "PRIMARY KEY (stream, writer, seq), " + ", ".join(_LOG_CHECKS) + ") "
    # Rows live in the primary-key b-tree itself: one b-tree write per append, not two.
    "WITHOUT ROWID",
    "PRAGMA ignore_check_constraints = ON",
    "INSERT INTO agentstore_log_v2 (stream, writer, seq, payload, prev_hash, content_hash) "
    "SELECT stream, writer, seq, payload, prev_hash, content_hash FROM agentstore_log",
    "PRAGMA ignore_check_constraints = OFF",
    "DROP TABLE agentstore_log",
    "ALTER TABLE agentstore_log_v2 RENAME TO agentstore_log",
    _CREATE_HEADS,
    _FILL_HEADS,
    # SQLite triggers run once per row, so the head is not kept by a trigger on the table
    # (a batch would move it once per entry): a single append goes through this view,
    # whose trigger writes the row and moves the head in the same statement, and a batch
    # moves the head once, in its own transaction (see SqlLogStore._insert_many).
    "CREATE VIEW agentstore_log_append AS "
    "SELECT stream, writer, seq, payload, prev_hash, content_hash FROM agentstore_log",
    "CREATE TRIGGER agentstore_log_append INSTEAD OF INSERT ON agentstore_log_append BEGIN "
    "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
    "VALUES (NEW.stream, NEW.writer, NEW.seq, NEW.payload, NEW.prev_hash, NEW.content_hash); "
    + _MOVE_HEAD.replace("?, ?, ?, ?", "NEW.stream, NEW.writer, NEW.seq, NEW.content_hash")
    + "; END",
)

_V2_POSTGRES: Final = (
    # NOT VALID: rows already stored stay as they are (verify judges them); every row
    # inserted or updated from now on is checked.
    *(f"ALTER TABLE agentstore_log ADD {check} NOT VALID" for check in _LOG_CHECKS),
    _CREATE_HEADS,
    _FILL_HEADS,
)

HEAD_SEQ: Final = "head"
"""On SQLite, the ``seq`` of the row holding a log's recorded head: a TEXT value, which
SQLite sorts after every INTEGER, so the row sits right after its log's newest entry."""

_ROWS_COLUMNS: Final = "stream, writer, seq, payload, prev_hash, content_hash"
_IS_HEAD: Final = f"seq = '{HEAD_SEQ}'"


def _move_head_row(stream: str, writer: str, seq: str, digest: str) -> str:
    """The statement moving a log's head row forward, never back (SQLite, version 3)."""
    return (
        f"INSERT INTO agentstore_log_rows ({_ROWS_COLUMNS}) VALUES ({stream}, {writer}, "
        f"'{HEAD_SEQ}', {seq}, zeroblob(32), {digest}) ON CONFLICT (stream, writer, seq) "
        "DO UPDATE SET payload = excluded.payload, content_hash = excluded.content_hash "
        "WHERE excluded.payload > agentstore_log_rows.payload"
    )


MOVE_HEAD_ROW: Final = _move_head_row("?", "?", "?", "?")

# An application's own indexes and triggers on the tables version 3 turns into views would
# be lost silently: the upgrade refuses instead (see ensure_schema).
_FOREIGN_OBJECTS: Final = (
    "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('index', 'trigger') "
    "AND tbl_name IN ('agentstore_log', 'agentstore_log_heads') AND sql IS NOT NULL "
    "ORDER BY name"
)

_HEAD_KEY_TAKEN: Final = (
    f"SELECT stream, writer FROM agentstore_log WHERE seq = '{HEAD_SEQ}' LIMIT 1"
)

_V3_SQLITE: Final = (
    "CREATE TABLE agentstore_log_rows ("
    "stream {name} NOT NULL, writer {name} NOT NULL, seq {int} NOT NULL, "
    "payload {blob} NOT NULL, prev_hash {blob}, content_hash {blob} NOT NULL, "
    "PRIMARY KEY (stream, writer, seq), "
    "CONSTRAINT agentstore_log_seq_positive CHECK "
    f"((typeof(seq) = 'integer' AND seq >= 1) OR {_IS_HEAD}), "
    + ", ".join(_LOG_CHECKS[1:])
    + ", CONSTRAINT agentstore_log_head_row CHECK "
    f"(seq <> '{HEAD_SEQ}' OR (typeof(payload) = 'integer' AND payload >= 1))"
    ") WITHOUT ROWID",
    # Every stored row is kept, even ones the new rules refuse: verify reports them.
    "PRAGMA ignore_check_constraints = ON",
    f"INSERT INTO agentstore_log_rows ({_ROWS_COLUMNS}) SELECT {_ROWS_COLUMNS} FROM agentstore_log",
    f"INSERT INTO agentstore_log_rows ({_ROWS_COLUMNS}) SELECT stream, writer, '{HEAD_SEQ}', "
    "seq, zeroblob(32), content_hash FROM agentstore_log_heads",
    "PRAGMA ignore_check_constraints = OFF",
    "DROP TRIGGER agentstore_log_append",
    "DROP VIEW agentstore_log_append",
    "DROP TABLE agentstore_log_heads",
    "DROP TABLE agentstore_log",
    f"CREATE VIEW agentstore_log AS SELECT {_ROWS_COLUMNS} FROM agentstore_log_rows "
    f"WHERE seq <> '{HEAD_SEQ}'",
    "CREATE VIEW agentstore_log_heads AS SELECT stream, writer, payload AS seq, content_hash "
    f"FROM agentstore_log_rows WHERE {_IS_HEAD}",
    # A head row is moved forward by appends and never deleted or re-keyed: a DELETE that
    # would take it (truncating a log by a seq range, dropping a whole log) fails whole.
    "CREATE TRIGGER agentstore_log_head_kept BEFORE DELETE ON agentstore_log_rows "
    f"WHEN OLD.{_IS_HEAD} BEGIN "
    "SELECT RAISE(ABORT, 'a log''s recorded head row is never deleted'); END",
    "CREATE TRIGGER agentstore_log_head_keyed BEFORE UPDATE OF stream, writer, seq "
    f"ON agentstore_log_rows WHEN OLD.{_IS_HEAD} OR NEW.{_IS_HEAD} BEGIN "
    "SELECT RAISE(ABORT, 'a log''s recorded head row is never re-keyed'); END",
    # A single append is one INSERT into this view: its trigger writes the entry and moves
    # the head row in the same statement (a batch moves it once, see SqlLogStore).
    f"CREATE VIEW agentstore_log_append AS SELECT {_ROWS_COLUMNS} FROM agentstore_log_rows",
    "CREATE TRIGGER agentstore_log_append INSTEAD OF INSERT ON agentstore_log_append BEGIN "
    f"INSERT INTO agentstore_log_rows ({_ROWS_COLUMNS}) "
    "VALUES (NEW.stream, NEW.writer, NEW.seq, NEW.payload, NEW.prev_hash, NEW.content_hash); "
    + _move_head_row("NEW.stream", "NEW.writer", "NEW.seq", "NEW.content_hash")
    + "; END",
)

# MIGRATIONS[n][dialect] takes a database from version n - 1 to n; version 0 is empty.
MIGRATIONS: Final[Mapping[int, Mapping[Dialect, Sequence[str]]]] = {
    1: {Dialect.SQLITE: _V1, Dialect.POSTGRES: _V1},
    2: {Dialect.SQLITE: _V2_SQLITE, Dialect.POSTGRES: _V2_POSTGRES},
    3: {Dialect.SQLITE: _V3_SQLITE, Dialect.POSTGRES: ()},
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


def _refuse_unkeepable(backend: Backend) -> None:
    """Refuse an upgrade to version 3 that could not keep the database as it is."""
    taken = backend.query(_HEAD_KEY_TAKEN)
    if taken:
        stream, writer = (str(v) for v in taken[0])
        raise SchemaVersionError(
            f"{backend.location}: cannot upgrade to agentstore schema {SCHEMA_VERSION}: log "
            f"{stream!r}/{writer!r} holds a row at seq '{HEAD_SEQ}', the key schema "
            f"{SCHEMA_VERSION} gives each log's recorded head. agentstore never writes such a "
            "row; delete it and open the store again. Nothing was changed."
        )
    found = backend.query(_FOREIGN_OBJECTS)
    if found:
        kind, name, table = (str(v) for v in found[0])
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise SchemaVersionError(
            f"{backend.location}: cannot upgrade to agentstore schema {SCHEMA_VERSION}: the "
            f"{kind} {name!r} on {table}{more} would be lost, as {table} becomes a view of "
            "agentstore_log_rows. Drop it, open the store to upgrade, then create it on "
            "agentstore_log_rows. Nothing was changed."
        )


def require_schema(backend: Backend, where: str | None = None) -> int:
    """The schema version of an existing store, checked usable as it stands; no DDL runs.

    ``where`` names the storage in messages (default: ``backend.location``).

    Raises:
        StoreNotFound: the database holds no agentstore tables.
        SchemaVersionError: the schema is newer than this code, or older than it reads
            without an upgrade (the message says how to upgrade); nothing is changed.
    """
    place = where or backend.location
    found = schema_version(backend)
    if found == 0:
        raise StoreNotFound(
            f"{place} holds no agentstore store (no agentstore tables); check the path or "
            "schema in the policy. Nothing was created."
        )
    _refuse_newer(backend, found)
    if found < READABLE_FROM[backend.dialect]:
        raise SchemaVersionError(
            f"{place} has agentstore schema version {found}, older than this code reads "
            f"without upgrading it (version {SCHEMA_VERSION}); opened without creating, it "
            "is left as it is: upgrade it by opening the store once with "
            "agentstore.open(policy) (create=True, the default), then try again"
        )
    return found


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
        if dialect is Dialect.SQLITE and 0 < found < 3:
            _refuse_unkeepable(backend)
        try:
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version][dialect]:
                    backend.exec(_sql(statement, dialect))
        finally:
            if dialect is Dialect.SQLITE:  # a failed upgrade must not leave checks off
                backend.exec("PRAGMA ignore_check_constraints = OFF")
        if found != SCHEMA_VERSION:
            backend.exec(_WRITE_VERSION, (VERSION_KEY, str(SCHEMA_VERSION)))
    return SCHEMA_VERSION


__all__ = [
    "HEAD_SEQ",
    "MIGRATIONS",
    "MOVE_HEAD",
    "MOVE_HEAD_ROW",
    "READABLE_FROM",
    "SCHEMA_VERSION",
    "ensure_schema",
    "require_schema",
    "schema_version",
]
