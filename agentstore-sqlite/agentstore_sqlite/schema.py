"""SQLite's layout of the substrate's tables (see :class:`agentstore.sql.schema.SchemaLayout`).

Version 2 rebuilds ``agentstore_log`` as a ``WITHOUT ROWID`` table with the log's checks
(SQLite adds a CHECK only by rebuilding) and appends one entry through a view whose
trigger moves the head in the same statement.

Version 3 keeps each log's recorded head beside its entries: entries and heads are rows of
one table, ``agentstore_log_rows``, a head being the row at ``seq`` :data:`HEAD_SEQ` of its
log (its ``payload`` holds the head's seq). The head row sorts right after the log's newest
entry, so an append writes one b-tree page where a separate heads table made it write two.
A head row is never deleted or re-keyed (triggers refuse it), so deleting a range of seqs,
or a whole log, fails rather than taking the head with it. ``agentstore_log`` and
``agentstore_log_heads`` become read-only views of the entries and of the heads, so queries
written against version 2 read the same; writes go to ``agentstore_log_rows``. Upgrading
keeps every stored row, and refuses (changing nothing) while an application's own index or
trigger sits on a table that becomes a view.

Version 4 (:data:`V4_SQLITE_LOG_POSITIONS`) gives every entry row a ``position`` and a
``redacted`` mark (0 or 1). Positions are unique (index ``agentstore_log_position``), dense
(1, 2, 3, ...) and increasing in commit order: each is one more than the largest stored,
found by one seek at the end of that index inside the write transaction, which SQLite
runs one at a time for the whole file. Head rows have no position. An upgrade gives the
rows already stored positions 1..N in the order ``(stream, writer, seq)``: every log keeps
its seq order (version 3 kept no record of the order in which different logs were
written). ``agentstore_log`` gains both columns; ``agentstore_log_append`` takes a
position, or computes the next one when given NULL.
Version 4 also runs the core's sessions step (:data:`agentstore.sql.schema.V4_SESSIONS`):
sessions gain a nullable ``expires_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from agentstore.errors import SchemaVersionError
from agentstore.sql.backend import Backend, Dialect
from agentstore.sql.schema import (
    CREATE_HEADS,
    FILL_HEADS,
    LOG_CHECKS,
    MOVE_HEAD,
    SCHEMA_VERSION,
    V1,
    V4_SESSIONS,
    SchemaLayout,
    register_layout,
)

SQLITE_TYPES: Final = {
    "int": "INTEGER",
    "blob": "BLOB",
    "real": "REAL",
    "text": "TEXT",
    "name": "TEXT",
    "octets": "length",
    "hot_updates": "",
}

_V2_SQLITE: Final = (
    # SQLite adds a CHECK only by rebuilding the table; the copy keeps every row as it is.
    "CREATE TABLE agentstore_log_v2 ("
    "stream {name} NOT NULL, writer {name} NOT NULL, seq {int} NOT NULL, "
    "payload {blob} NOT NULL, prev_hash {blob}, content_hash {blob} NOT NULL, "
    "PRIMARY KEY (stream, writer, seq), " + ", ".join(LOG_CHECKS) + ") "
    # Rows live in the primary-key b-tree itself: one b-tree write per append, not two.
    "WITHOUT ROWID",
    "PRAGMA ignore_check_constraints = ON",
    "INSERT INTO agentstore_log_v2 (stream, writer, seq, payload, prev_hash, content_hash) "
    "SELECT stream, writer, seq, payload, prev_hash, content_hash FROM agentstore_log",
    "PRAGMA ignore_check_constraints = OFF",
    "DROP TABLE agentstore_log",
    "ALTER TABLE agentstore_log_v2 RENAME TO agentstore_log",
    CREATE_HEADS,
    FILL_HEADS,
    # SQLite triggers run once per row, so the head is not kept by a trigger on the table
    # (a batch would move it once per entry): a single append goes through this view,
    # whose trigger writes the row and moves the head in the same statement, and a batch
    # moves the head once, in its own transaction (SqlLogStore._insert_many).
    "CREATE VIEW agentstore_log_append AS "
    "SELECT stream, writer, seq, payload, prev_hash, content_hash FROM agentstore_log",
    "CREATE TRIGGER agentstore_log_append INSTEAD OF INSERT ON agentstore_log_append BEGIN "
    "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
    "VALUES (NEW.stream, NEW.writer, NEW.seq, NEW.payload, NEW.prev_hash, NEW.content_hash); "
    + MOVE_HEAD.replace("?, ?, ?, ?", "NEW.stream, NEW.writer, NEW.seq, NEW.content_hash")
    + "; END",
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
    + ", ".join(LOG_CHECKS[1:])
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
    # the head row in the same statement (a batch moves it once: SqlLogStore._insert_many).
    f"CREATE VIEW agentstore_log_append AS SELECT {_ROWS_COLUMNS} FROM agentstore_log_rows",
    "CREATE TRIGGER agentstore_log_append INSTEAD OF INSERT ON agentstore_log_append BEGIN "
    f"INSERT INTO agentstore_log_rows ({_ROWS_COLUMNS}) "
    "VALUES (NEW.stream, NEW.writer, NEW.seq, NEW.payload, NEW.prev_hash, NEW.content_hash); "
    + _move_head_row("NEW.stream", "NEW.writer", "NEW.seq", "NEW.content_hash")
    + "; END",
)

_ENTRY_COLUMNS: Final = f"{_ROWS_COLUMNS}, position, redacted"
_NEXT_POSITION: Final = "(SELECT coalesce(max(position), 0) + 1 FROM agentstore_log_rows)"

# Version 4: positions and the redaction mark, in a step of its own (another step of the
# same version can join it: the migration of version 4 is the steps one after another).
V4_SQLITE_LOG_POSITIONS: Final = (
    # Rows kept from version 1 that the checks refuse are kept as they are (verify judges
    # them): adding a column to a table with checks runs them over every row, and the
    # UPDATE rewrites every row, which SQLite checks too.
    "PRAGMA ignore_check_constraints = ON",
    "ALTER TABLE agentstore_log_rows ADD COLUMN position INTEGER",
    "ALTER TABLE agentstore_log_rows ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0 "
    "CONSTRAINT agentstore_log_redacted CHECK (redacted IN (0, 1))",
    "UPDATE agentstore_log_rows AS r SET position = o.n FROM ("
    "SELECT stream, writer, seq, row_number() OVER (ORDER BY stream, writer, seq) AS n "
    f"FROM agentstore_log_rows WHERE seq <> '{HEAD_SEQ}') AS o "
    "WHERE r.stream = o.stream AND r.writer = o.writer AND r.seq = o.seq",
    "PRAGMA ignore_check_constraints = OFF",
    "CREATE UNIQUE INDEX agentstore_log_position ON agentstore_log_rows (position)",
    "DROP VIEW agentstore_log",
    f"CREATE VIEW agentstore_log AS SELECT {_ENTRY_COLUMNS} FROM agentstore_log_rows "
    f"WHERE seq <> '{HEAD_SEQ}'",
    "DROP TRIGGER agentstore_log_append",
    "DROP VIEW agentstore_log_append",
    f"CREATE VIEW agentstore_log_append AS SELECT {_ROWS_COLUMNS}, position "
    "FROM agentstore_log_rows",
    # The entry takes the position it is given, or the next one when given NULL; the
    # unique index refuses a position taken (the caller then retries in a transaction).
    "CREATE TRIGGER agentstore_log_append INSTEAD OF INSERT ON agentstore_log_append BEGIN "
    f"INSERT INTO agentstore_log_rows ({_ROWS_COLUMNS}, position) "
    "VALUES (NEW.stream, NEW.writer, NEW.seq, NEW.payload, NEW.prev_hash, NEW.content_hash, "
    f"coalesce(NEW.position, {_NEXT_POSITION})); "
    + _move_head_row("NEW.stream", "NEW.writer", "NEW.seq", "NEW.content_hash")
    + "; END",
)

# A single append: one INSERT into this view writes the entry and moves the head row in
# the same statement. With a position given (the next one, as this store last saw the
# file) nothing is read back; when another connection took it, the unique index refuses.
INSERT_VIA_VIEW: Final = (
    f"INSERT INTO agentstore_log_append ({_ROWS_COLUMNS}, position) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# The same with the position left to the trigger (NULL), and read back.
INSERT_VIA_VIEW_RETURNING: Final = (
    INSERT_VIA_VIEW + " RETURNING (SELECT r.position FROM agentstore_log_rows AS r "
    "WHERE r.stream = agentstore_log_append.stream AND r.writer = agentstore_log_append.writer "
    "AND r.seq = agentstore_log_append.seq)"
)

# Every SQLite log has a row (an entry or its head): the next log is one seek.
NEXT_ROWS_LOG: Final = (
    "SELECT stream, writer FROM agentstore_log_rows WHERE (stream, writer) > (?, ?) "
    "ORDER BY stream, writer LIMIT 1"
)


@dataclass(frozen=True)
class SqliteLayout(SchemaLayout):
    """SQLite's layout: refuses an upgrade to version 3 that could not keep the database,
    and never leaves an upgrade's ``ignore_check_constraints`` on."""

    def before_upgrade(self, backend: Backend, found: int) -> None:
        if found < 3:
            _refuse_unkeepable(backend)
        elif found < 4:
            _refuse_lost_triggers(backend)

    def after_upgrade(self, backend: Backend) -> None:
        backend.exec("PRAGMA ignore_check_constraints = OFF")


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


# Version 4 rebuilds the views agentstore_log and agentstore_log_append: a trigger of the
# application's on either would go with them.
_TRIGGERS_ON_VIEWS: Final = (
    "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' "
    "AND tbl_name IN ('agentstore_log', 'agentstore_log_append') "
    "AND name <> 'agentstore_log_append' ORDER BY name"
)


def _refuse_lost_triggers(backend: Backend) -> None:
    """Refuse an upgrade from version 3 that would drop an application's trigger."""
    found = backend.query(_TRIGGERS_ON_VIEWS)
    if found:
        name, view = (str(v) for v in found[0])
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise SchemaVersionError(
            f"{backend.location}: cannot upgrade to agentstore schema {SCHEMA_VERSION}: the "
            f"trigger {name!r} on the view {view}{more} would be lost, as the upgrade "
            "rebuilds that view. Drop it, open the store to upgrade, then create it again. "
            "Nothing was changed."
        )


SQLITE_LAYOUT: Final = SqliteLayout(
    types=SQLITE_TYPES,
    migrations={1: V1, 2: _V2_SQLITE, 3: _V3_SQLITE, 4: (*V4_SQLITE_LOG_POSITIONS, *V4_SESSIONS)},
    readable_from=3,
    table_exists="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    log_table="agentstore_log_rows",
    move_head=MOVE_HEAD_ROW,
)
"""The layout every :class:`~agentstore_sqlite.connection.SqliteBackend` names."""

# A SQLite backend that names no layout (written before backends did) gets this one.
register_layout(Dialect.SQLITE, SQLITE_LAYOUT)

__all__ = [
    "HEAD_SEQ",
    "INSERT_VIA_VIEW",
    "INSERT_VIA_VIEW_RETURNING",
    "MOVE_HEAD_ROW",
    "NEXT_ROWS_LOG",
    "SQLITE_LAYOUT",
    "V4_SQLITE_LOG_POSITIONS",
    "SqliteLayout",
]
