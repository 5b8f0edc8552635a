"""What every scenario shares: the payload, the run settings, opening agentstore, SQLite floors."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from benchmarks.harness import Unavailable

if TYPE_CHECKING:
    import agentstore

PAYLOAD_SIZE = 256
PAYLOAD = bytes(range(256)) * (PAYLOAD_SIZE // 256)
"""Every contender writes this 256-byte payload."""

STREAM = "bench"


@dataclass
class Settings:
    """How much work each scenario does; ``quick`` keeps the whole run under a minute."""

    quick: bool
    workdir: Path
    postgres_url: str
    reps: int
    scale: float = 1.0
    cleanups: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def n(self, full: int, quick: int) -> int:
        """An operation count: ``full`` normally, ``quick`` under ``--quick``, times scale."""
        return max(1, int((quick if self.quick else full) * self.scale))

    def path(self, name: str) -> Path:
        p = self.workdir / name
        p.mkdir(parents=True, exist_ok=True)
        return p


# -- agentstore ----------------------------------------------------------------------------


def open_agentstore(backend: str, section: Mapping[str, Any] | None = None) -> agentstore.Store:
    """Open a store with every capability on ``backend``, or raise Unavailable saying why."""
    try:
        import agentstore
    except ImportError as exc:
        raise Unavailable(f"agentstore is not importable ({exc})") from exc
    try:
        spec = agentstore.default_registry().get(backend)
    except agentstore.UnknownDriver as exc:
        raise Unavailable(f"agentstore driver {backend!r} is not installed") from exc
    fields = _keys(spec.config_model)
    values = {k: v for k, v in (section or {}).items() if k in fields}
    sections = {backend: values} if values or spec.needs_section else {}
    policy = agentstore.StorePolicy(backend, sections=sections)
    return agentstore.open(policy)


SQLITE_NORMAL = "WAL, synchronous=NORMAL"
SQLITE_FULL = "WAL, synchronous=FULL"


def agentstore_sqlite_durability() -> str:
    """What the agentstore sqlite rows run at: NORMAL when the driver lets us say so."""
    try:
        import agentstore

        fields = agentstore.default_registry().get("sqlite").config_model.model_fields
    except Exception:
        return SQLITE_NORMAL  # not installed: the row says what it would be asked for
    return SQLITE_NORMAL if "synchronous" in fields else "driver default (no synchronous setting)"


def driver_accepts(backend: str, key: str) -> bool:
    """Whether the installed driver's config section has a setting called ``key``."""
    try:
        import agentstore

        return key in _keys(agentstore.default_registry().get(backend).config_model)
    except Exception:
        return False


def _keys(model: Any) -> set[str]:
    """The keys a policy section may write: each field's name, and its alias if it has one
    (postgres writes ``schema`` for ``schema_name``)."""
    fields = model.model_fields
    return set(fields) | {f.alias for f in fields.values() if f.alias}


# -- the raw SQLite floor ------------------------------------------------------------------

SQLITE_FLOOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_entries (
    stream TEXT NOT NULL,
    writer TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload BLOB NOT NULL,
    prev_hash BLOB,
    content_hash BLOB NOT NULL,
    PRIMARY KEY (stream, writer, seq)
)
"""


def sqlite_connect(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A connection in WAL mode at ``synchronous``, transactions issued explicitly."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def check_synchronous(actual: object, expected: str) -> None:
    """Refuse to report a row under a durability setting it does not run at."""
    name = SYNCHRONOUS.get(actual, str(actual)) if isinstance(actual, int) else str(actual)
    if name.upper() != expected.upper():
        raise RuntimeError(f"connection runs at synchronous={name}, the row says {expected}")


def chain(prev: bytes | None, payload: bytes) -> bytes:
    """BLAKE3(prev || payload), the genesis hashing the payload alone."""
    h = blake3(prev) if prev is not None else blake3()
    h.update(payload)
    return h.digest()


class SqliteFloorLog:
    """The hand-written floor: the same chained rows, the same guarantees, nothing else.

    One append is ``BEGIN IMMEDIATE``; read the head; hash; ``INSERT``; ``COMMIT``
    (:meth:`append`), or one ``INSERT`` after a cached head (:meth:`append_optimistic`).
    A batch is the first with ``executemany`` for all its rows.
    """

    HEAD = (
        "SELECT seq, content_hash FROM floor_entries WHERE stream = ? AND writer = ? "
        "ORDER BY seq DESC LIMIT 1"
    )
    INSERT = (
        "INSERT INTO floor_entries (stream, writer, seq, payload, prev_hash, content_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )

    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.conn = sqlite_connect(path, synchronous)
        self.conn.execute(SQLITE_FLOOR_SCHEMA)
        self.heads: dict[tuple[str, str], tuple[int, bytes | None]] = {}
        check_synchronous(self.conn.execute("PRAGMA synchronous").fetchone()[0], synchronous)

    def _head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        row = self.conn.execute(self.HEAD, (stream, writer)).fetchone()
        return (row[0], row[1]) if row else (0, None)

    def append(self, stream: str, writer: str, payload: bytes) -> int:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            seq, prev = self._head(stream, writer)
            seq += 1
            c.execute(self.INSERT, (stream, writer, seq, payload, prev, chain(prev, payload)))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return seq

    def append_optimistic(self, stream: str, writer: str, payload: bytes) -> int:
        """One INSERT after a cached head, in its own implicit transaction.

        The primary key refuses the row when another connection appended meanwhile; the
        head is then read again and the append retried (entries never change, so a cached
        head is only ever stale, never wrong).
        """
        key = (stream, writer)
        while True:
            head = self.heads.get(key)
            if head is None:
                head = self.heads[key] = self._head(stream, writer)
            seq, prev = head
            h = chain(prev, payload)
            try:
                self.conn.execute(self.INSERT, (stream, writer, seq + 1, payload, prev, h))
            except sqlite3.IntegrityError:
                del self.heads[key]
                continue
            self.heads[key] = (seq + 1, h)
            return seq + 1

    def append_many(self, stream: str, writer: str, payloads: list[bytes]) -> int:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            seq, prev = self._head(stream, writer)
            rows = []
            for p in payloads:
                seq += 1
                h = chain(prev, p)
                rows.append((stream, writer, seq, p, prev, h))
                prev = h
            c.executemany(self.INSERT, rows)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        return seq

    def close(self) -> None:
        self.conn.close()


# -- eventsourcing on SQLite ---------------------------------------------------------------


def eventsourcing_sqlite(path: Path, synchronous: str | None) -> tuple[Any, Any]:
    """eventsourcing's SQLite aggregate recorder on ``path`` and its datastore.

    ``synchronous`` None keeps eventsourcing's own setting (SQLite's default, FULL).
    """
    try:
        from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore
    except ImportError as exc:
        raise Unavailable("eventsourcing is not installed (uv run --group bench)") from exc

    # One pooled connection, so the setting below is the one every insert runs at.
    datastore = SQLiteDatastore(str(path), pool_size=1, max_overflow=0)
    if synchronous is not None:
        with datastore.get_connection(commit=True) as conn:
            conn.cursor().execute(f"PRAGMA synchronous={synchronous}")
    recorder = SQLiteAggregateRecorder(datastore, events_table_name="es_events")
    recorder.create_table()
    with datastore.transaction(commit=False) as c:
        c.execute("PRAGMA synchronous")
        check_synchronous(c.fetchone()[0], synchronous or "FULL")
    return recorder, datastore


def stored_event(originator_id: Any, version: int, payload: bytes) -> Any:
    from eventsourcing.persistence import StoredEvent

    return StoredEvent(
        originator_id=originator_id, originator_version=version, topic="bench", state=payload
    )


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
