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

Version 3 only renumbers: the layout of :data:`DEFAULT_LAYOUT` is unchanged by it (the
SQLite driver's layout, in ``agentstore_sqlite.schema``, keeps each log's head beside its
entries from version 3 on).

Version 4 gives every log entry a store-wide position and a redaction mark. In
:data:`DEFAULT_LAYOUT` (PostgreSQL) the position is two columns, never a counter:
``tx xid8`` (the writing transaction's id, ``pg_current_xact_id()``) and ``idx`` (the row's
ordinal within that transaction), unique together; why that gives a feed without late
gaps is told in ``agentstore_postgres.positions``. Rows stored before the upgrade get
``tx = 0`` and ``idx = 1..N``: each log keeps its seq order, and across logs the order
follows the transaction ids PostgreSQL recorded on the rows as far as it still knows them.

Where the tables live and which DDL builds them is a :class:`SchemaLayout`: a backend
names its own with a ``schema_layout`` attribute, else it gets :data:`DEFAULT_LAYOUT`
(entries in ``agentstore_log``, heads in ``agentstore_log_heads``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agentstore.errors import SchemaVersionError, StoreError, StoreNotFound
from agentstore.sql.backend import Backend, Dialect

SCHEMA_VERSION: Final = 4
"""The schema version this code writes and understands."""

META_TABLE: Final = "agentstore_meta"
VERSION_KEY: Final = "schema_version"

# Column types of the default layout (PostgreSQL's). ``name`` columns compare and sort
# by code point.
POSTGRES_TYPES: Final[Mapping[str, str]] = {
    "int": "BIGINT",
    "blob": "BYTEA",
    "real": "DOUBLE PRECISION",
    "text": "TEXT",
    "name": 'TEXT COLLATE "C"',
    "octets": "octet_length",
    # Room on each page lets a head's update stay on its page (no index write).
    "hot_updates": " WITH (fillfactor = 50)",
}

# The catalogs directly: information_schema is slower to query on a fresh connection.
_PG_TABLE_EXISTS: Final = (
    "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
    "AND c.relkind IN ('r', 'p') AND c.relname = ?"
)

CREATE_META: Final = (
    f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key {{text}} PRIMARY KEY, value {{text}} NOT NULL)"
)

V1: Final = (
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
LOG_CHECKS: Final = (
    "CONSTRAINT agentstore_log_seq_positive CHECK (seq >= 1)",
    "CONSTRAINT agentstore_log_hash_size CHECK ({octets}(content_hash) = 32 "
    "AND (prev_hash IS NULL OR {octets}(prev_hash) = 32))",
    "CONSTRAINT agentstore_log_genesis CHECK ((seq = 1) = (prev_hash IS NULL))",
)

CREATE_HEADS: Final = (
    "CREATE TABLE agentstore_log_heads ("
    "stream {name} NOT NULL, writer {name} NOT NULL, seq {int} NOT NULL, "
    "content_hash {blob} NOT NULL, PRIMARY KEY (stream, writer), "
    "CONSTRAINT agentstore_log_heads_seq_positive CHECK (seq >= 1), "
    "CONSTRAINT agentstore_log_heads_hash_size CHECK ({octets}(content_hash) = 32))"
    "{hot_updates}"
)

# Moves a log's recorded head forward, never back.
MOVE_HEAD: Final = (
    "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (stream, writer) DO UPDATE SET seq = excluded.seq, "
    "content_hash = excluded.content_hash WHERE excluded.seq > agentstore_log_heads.seq"
)

# Each existing log's head is its last stored row with an integer seq (the best a version
# 1 database knows; SQLite would sort an edited text seq after every integer).
FILL_HEADS: Final = (
    "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) "
    "SELECT l.stream, l.writer, l.seq, l.content_hash FROM agentstore_log l "
    "WHERE l.seq >= 1 AND {octets}(l.content_hash) = 32 AND l.seq = ("
    "SELECT max(m.seq) FROM agentstore_log m "
    "WHERE m.stream = l.stream AND m.writer = l.writer AND m.seq = CAST(m.seq AS {int}))"
)

_V2_POSTGRES: Final = (
    # NOT VALID: rows already stored stay as they are (verify judges them); every row
    # inserted or updated from now on is checked.
    *(f"ALTER TABLE agentstore_log ADD {check} NOT VALID" for check in LOG_CHECKS),
    CREATE_HEADS,
    FILL_HEADS,
)

# Version 4 on PostgreSQL: each entry's position (tx, idx) and its redaction mark. Rows
# already stored take tx 0 (a constant default: no table rewrite), then every new row the
# writing transaction's id. The version 2 checks are dropped while idx is filled in and put
# back as they were (NOT VALID): an UPDATE checks every row it writes, and a version 1
# database may keep rows they refuse (verify judges those). The running max keeps each
# log's positions in seq order even where a row was edited (a newer xmin) behind its back.
V4_POSTGRES_LOG_POSITIONS: Final = (
    "ALTER TABLE agentstore_log ADD COLUMN tx xid8 NOT NULL DEFAULT '0'",
    "ALTER TABLE agentstore_log ALTER COLUMN tx SET DEFAULT pg_current_xact_id()",
    "ALTER TABLE agentstore_log ADD COLUMN idx integer",
    "ALTER TABLE agentstore_log ADD COLUMN redacted boolean NOT NULL DEFAULT false",
    "ALTER TABLE agentstore_log DROP CONSTRAINT IF EXISTS agentstore_log_seq_positive, "
    "DROP CONSTRAINT IF EXISTS agentstore_log_hash_size, "
    "DROP CONSTRAINT IF EXISTS agentstore_log_genesis",
    "UPDATE agentstore_log AS l SET idx = o.n FROM (SELECT stream, writer, seq, "
    "row_number() OVER (ORDER BY written, stream, writer, seq) AS n FROM ("
    "SELECT stream, writer, seq, max(-age(xmin)) OVER ("
    "PARTITION BY stream, writer ORDER BY seq) AS written FROM agentstore_log) AS w) AS o "
    "WHERE l.stream = o.stream AND l.writer = o.writer AND l.seq = o.seq",
    *(f"ALTER TABLE agentstore_log ADD {check} NOT VALID" for check in LOG_CHECKS),
    "ALTER TABLE agentstore_log ALTER COLUMN idx SET NOT NULL, "
    "ADD CONSTRAINT agentstore_log_idx_positive CHECK (idx >= 1)",
    "CREATE UNIQUE INDEX agentstore_log_position ON agentstore_log (tx, idx)",
    # stream(name).entries(after): one stream's rows in position order, scoped to it.
    "CREATE INDEX agentstore_log_stream_position ON agentstore_log (stream, tx, idx)",
)


# Version 4 for a layout that names no step of its own (one written before version 4,
# keeping its entries in an agentstore_log table): each entry's position and redaction
# mark, rows already stored positioned in (stream, writer, seq) order. The portable log
# store assigns positions itself (one past the largest, in its write transaction).
V4_PORTABLE_LOG_POSITIONS: Final = (
    "ALTER TABLE agentstore_log ADD COLUMN position {int}",
    "ALTER TABLE agentstore_log ADD COLUMN redacted {int} NOT NULL DEFAULT 0",
    "UPDATE agentstore_log SET position = o.n FROM (SELECT stream, writer, seq, "
    "row_number() OVER (ORDER BY stream, writer, seq) AS n FROM agentstore_log) AS o "
    "WHERE agentstore_log.stream = o.stream AND agentstore_log.writer = o.writer "
    "AND agentstore_log.seq = o.seq",
    "CREATE UNIQUE INDEX agentstore_log_position ON agentstore_log (position)",
)
_PORTABLE_STEPS: Final[Mapping[int, Sequence[str]]] = {4: V4_PORTABLE_LOG_POSITIONS}


@dataclass(frozen=True)
class SchemaLayout:
    """Where the substrate's tables live in one database, and the DDL that builds them.

    The capability logic reads and writes through the names every layout keeps:
    entries are read from ``agentstore_log`` and heads from ``agentstore_log_heads``
    (tables or views), entries are written to :attr:`log_table` and a head is moved
    forward by :attr:`move_head`. A backend with a layout of its own names it in a
    ``schema_layout`` attribute; the others get :data:`DEFAULT_LAYOUT`.
    """

    types: Mapping[str, str]
    """Values for the ``{int}``, ``{blob}``, ``{real}``, ``{text}``, ``{name}``,
    ``{octets}`` and ``{hot_updates}`` fields of the DDL templates."""
    migrations: Mapping[int, Sequence[str]]
    """``migrations[n]`` takes a database from version n - 1 to n (templates, see
    :attr:`types`), for every n up to :data:`SCHEMA_VERSION`; version 0 is empty. A
    layout written before version 4 may stop at 3: :meth:`steps` supplies the core's
    portable version 4 (positions and the redaction mark on ``agentstore_log``)."""
    readable_from: int
    """The oldest version read as it stands; an older one must be upgraded first."""
    table_exists: str
    """A query yielding a row when the table named by its one parameter exists."""
    schema_lock: str | None = None
    """Run first in the upgrade's transaction, where that transaction alone does not keep
    concurrent first opens apart (PostgreSQL's DDL); None where it does."""
    log_table: str = "agentstore_log"
    """The table log entries are written to (and edited in, by ``tamper``)."""
    move_head: str = MOVE_HEAD
    """Moves a log's head forward, never back; binds stream, writer, seq, content_hash."""

    def sql(self, template: str) -> str:
        """``template`` with this layout's column types filled in."""
        return template.format_map(self.types)

    def steps(self, version: int) -> Sequence[str]:
        """The DDL templates taking a database from ``version - 1`` to ``version``: this
        layout's :attr:`migrations` entry, else (a layout written before that version)
        the portable step the core keeps for it.

        Raises:
            KeyError: neither this layout nor the core has a step for ``version``.
        """
        found = self.migrations.get(version)
        return _PORTABLE_STEPS[version] if found is None else found

    def before_upgrade(self, backend: Backend, found: int) -> None:
        """Refuse, changing nothing, an upgrade from version ``found`` (at least 1) that
        could not keep the database as it is; called inside the upgrade's transaction."""

    def after_upgrade(self, backend: Backend) -> None:
        """Restore connection settings an upgrade step changes; runs even when it fails."""


DEFAULT_LAYOUT: Final = SchemaLayout(
    types=POSTGRES_TYPES,
    migrations={1: V1, 2: _V2_POSTGRES, 3: (), 4: V4_POSTGRES_LOG_POSITIONS},
    readable_from=2,
    table_exists=_PG_TABLE_EXISTS,
    schema_lock="SELECT pg_advisory_xact_lock(7261746)",
)
"""The layout of every backend that names none of its own: PostgreSQL's types and
catalog, entries in ``agentstore_log`` and each log's head in ``agentstore_log_heads``."""


_BY_DIALECT: Final[dict[Dialect, SchemaLayout]] = {Dialect.POSTGRES: DEFAULT_LAYOUT}


def register_layout(dialect: Dialect, layout: SchemaLayout) -> None:
    """Make ``layout`` the one of every ``dialect`` backend that names none of its own.

    agentstore-sqlite registers SQLite's when :mod:`agentstore_sqlite.schema` is imported,
    so a SQLite backend written before backends named their layout keeps its tables.
    """
    _BY_DIALECT[dialect] = layout


def layout_of(backend: Backend) -> SchemaLayout:
    """The layout ``backend`` names in its ``schema_layout`` attribute, else the one
    registered for its dialect (:data:`DEFAULT_LAYOUT` for PostgreSQL).

    Raises:
        StoreError: no layout is known for the backend's dialect (a SQLite backend naming
            none, with agentstore-sqlite not imported).
    """
    layout = getattr(backend, "schema_layout", None)
    if isinstance(layout, SchemaLayout):
        return layout
    return _registered(backend.dialect)


def _registered(dialect: Dialect) -> SchemaLayout:
    try:
        return _BY_DIALECT[dialect]
    except KeyError:
        raise StoreError(
            f"no schema layout is known for {dialect.value}: name one in the backend's "
            "schema_layout attribute, or import agentstore_sqlite.schema "
            "(pip install agentstore-sqlite), which registers SQLite's"
        ) from None


_READ_VERSION: Final = f"SELECT value FROM {META_TABLE} WHERE key = ?"
_WRITE_VERSION: Final = (
    f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def schema_version(backend: Backend) -> int:
    """The schema version recorded in the database; 0 when it holds no agentstore tables.

    Raises:
        SchemaVersionError: the recorded version is not a number.
    """
    if not backend.query(layout_of(backend).table_exists, (META_TABLE,)):
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
    if found < layout_of(backend).readable_from:
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
    layout = layout_of(backend)
    with backend.transaction():
        if layout.schema_lock is not None:
            backend.query(layout.schema_lock)
        backend.exec(layout.sql(CREATE_META))
        found = schema_version(backend)
        _refuse_newer(backend, found)
        if 0 < found < SCHEMA_VERSION:
            layout.before_upgrade(backend, found)
        try:
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in layout.steps(version):
                    backend.exec(layout.sql(statement))
        finally:
            layout.after_upgrade(backend)
        if found != SCHEMA_VERSION:
            backend.exec(_WRITE_VERSION, (VERSION_KEY, str(SCHEMA_VERSION)))
    return SCHEMA_VERSION


_MOVED: Final = {
    "HEAD_SEQ": "agentstore_sqlite.schema.HEAD_SEQ",
    "MOVE_HEAD_ROW": "agentstore_sqlite.schema.MOVE_HEAD_ROW",
    "MIGRATIONS": "layout_of(backend).migrations",
    "READABLE_FROM": "layout_of(backend).readable_from",
}


def __getattr__(name: str) -> object:
    """The names SQLite's layout had here before it moved to agentstore-sqlite: they
    still work, with a DeprecationWarning."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"agentstore.sql.schema.{name} is deprecated: use {_MOVED[name]}",
        DeprecationWarning,
        stacklevel=2,
    )
    if name == "HEAD_SEQ":
        return "head"
    sqlite = _registered(Dialect.SQLITE)
    if name == "MOVE_HEAD_ROW":
        return sqlite.move_head
    if name == "MIGRATIONS":
        return {
            v: {
                Dialect.SQLITE: sqlite.steps(v),
                Dialect.POSTGRES: DEFAULT_LAYOUT.steps(v),
            }
            for v in range(1, SCHEMA_VERSION + 1)
        }
    return {Dialect.SQLITE: sqlite.readable_from, Dialect.POSTGRES: DEFAULT_LAYOUT.readable_from}


__all__ = [
    "CREATE_META",
    "DEFAULT_LAYOUT",
    "MOVE_HEAD",
    "SCHEMA_VERSION",
    "V4_PORTABLE_LOG_POSITIONS",
    "V4_POSTGRES_LOG_POSITIONS",
    "SchemaLayout",
    "ensure_schema",
    "layout_of",
    "register_layout",
    "require_schema",
    "schema_version",
]
