"""agentstore driver ``tiny``: all eight capabilities on one SQLite table of keys and values.

The driver supplies the four primitives of agentstore's key-value substrate (get, scan,
commit, close) and the substrate builds every capability on them. ``commit`` runs in a
``BEGIN IMMEDIATE`` transaction, which SQLite serializes across processes, so one file is
safe to share between processes on one machine.
"""

import os
import threading
from collections.abc import Callable, Mapping

from agentstore.driver import DriverSpec, DriverStores, OpenContext, StoreNotFound, hookimpl
from pydantic import BaseModel, ConfigDict

Writes = Mapping[bytes, bytes | None]


class Config(BaseModel):
    """The ``[store.tiny]`` section: ``path``, relative to the policy file's folder."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    path: str = "agentstore-tiny.db"


class SqliteKeyValue:
    """A :class:`agentstore.kv.KeyValue` on table ``kv`` of one SQLite file."""

    def __init__(self, path: str, create: bool) -> None:
        import sqlite3  # here and in open_tiny, not at the top: discovery imports this module

        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.text_factory = bytes  # a value edited into TEXT reads back as bytes, to check
        self.lock = threading.RLock()  # one connection: one thread at a time, one transaction
        if create:
            self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)")

    def get(self, key: bytes) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def scan(self, start: bytes, end: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        sql = "SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?"
        with self.lock:
            return self.db.execute(sql, (start, end, limit)).fetchall()

    def commit(self, expect: Writes, writes: Writes) -> bool:
        with self.lock, self.db:  # commits on leaving, rolls back on an exception
            self.db.execute("BEGIN IMMEDIATE")  # the write lock, held across processes too
            if any(self.get(k) != v for k, v in expect.items()):
                return False
            self.db.executemany("DELETE FROM kv WHERE k = ?", [(k,) for k in writes])
            self.db.executemany("INSERT INTO kv SELECT ?1, ?2 WHERE ?2 IS NOT NULL", writes.items())
            return True

    def close(self) -> None:
        with self.lock:
            self.db.close()


def open_tiny(config: Config, context: OpenContext) -> DriverStores:
    from agentstore.kv import open_kv_stores

    path = str(context.base_dir / config.path)
    if not context.create and not os.path.exists(path):
        raise StoreNotFound(f"{path}: no such store (opened with create=False)")
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # a new file is its owner's only
    return open_kv_stores(SqliteKeyValue(path, context.create), context, location=path)


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    tests = "agentstore_tiny.conformance:SUPPORT"  # imported by the conformance suite only
    spec = DriverSpec("tiny", open_tiny, config_model=Config, conformance=tests, cross_process=True)
    register(spec)
