"""Opening without create, and read-only: nothing is created or written, and a file the user
may only read (a 0444 file, a backup in a read-only folder, another user's file) is read."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import agentstore
import pytest
from agentstore import BackendUnavailable, StoreError, StoreNotFound
from agentstore_sqlite.logs import SqliteLogStore
from sqlite_helpers import open_file_store, sqlite_policy

NOBODY = 65534


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _folder(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _objects(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def _app_file(db: Path) -> None:
    """An application's own SQLite file: one table, rollback journal, no agentstore."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()


def _store_file(db: Path, entries: int = 3) -> None:
    with open_file_store(db) as store:
        store.log("s", writer="w").append_many([f"e{i}".encode() for i in range(entries)])
        store.audit.emit(agentstore.AuditEntry("made"))


@pytest.mark.parametrize("flags", [{"create": False}, {"read_only": True}])
def test_an_applications_own_file_is_no_store_and_stays_untouched(
    tmp_path: Path, flags: dict[str, bool]
) -> None:
    db = tmp_path / "app.db"
    _app_file(db)
    before = _digest(db)
    with pytest.raises(StoreNotFound) as info:
        agentstore.open(sqlite_policy(db), **flags)
    assert str(db) in str(info.value)
    assert "holds no agentstore store" in str(info.value)
    assert _objects(db) == [("table", "t")]
    assert _digest(db) == before  # not even the journal mode changed
    assert _folder(db) == ["app.db"]


@pytest.mark.parametrize("content", [b"", b"plain text, not a database\n"])
def test_an_empty_or_foreign_file_is_no_store(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "x.db"
    db.write_bytes(content)
    for flags in ({"create": False}, {"read_only": True}):
        with pytest.raises(StoreNotFound, match="holds no agentstore store"):
            agentstore.open(sqlite_policy(db), **flags)
    assert db.read_bytes() == content
    assert _folder(db) == ["x.db"]


def test_an_empty_store_agentstore_made_is_found(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    open_file_store(db).close()
    with agentstore.open(sqlite_policy(db), read_only=True) as store:
        assert store.logs() == []


def test_a_writable_file_opened_read_only_refuses_writes_and_leaves_no_files(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    _store_file(db)
    before = _digest(db)
    with agentstore.open(sqlite_policy(db), read_only=True) as store:
        assert store.log("s", writer="w").verify() == 3
        with pytest.raises(StoreError, match="opened read-only"):
            store.log("s", writer="w").append(b"no")
        with pytest.raises(StoreError, match="opened read-only"):
            store.generation("g").bump()
    assert _digest(db) == before
    assert _folder(db) == ["s.db"]  # no -wal or -shm left behind


def test_a_0444_file_is_verified_read_only_and_left_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    _store_file(db)
    os.chmod(db, 0o444)
    before = _digest(db)
    with pytest.raises(BackendUnavailable, match="read-only"):  # a store that would write
        agentstore.open(sqlite_policy(db), create=False)
    with agentstore.open(sqlite_policy(db), read_only=True) as store:
        assert store.log("s", writer="w").verify() == 3
        assert store.audit.verify() == 1
        with pytest.raises(StoreError, match="opened read-only"):
            store.log("s", writer="w").append(b"no")
    assert _digest(db) == before
    assert _folder(db) == ["ro.db"]


@pytest.fixture
def read_only_copy(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """A backup copy of a WAL store (with ``n`` entries) in a folder made read-only."""
    folder = tmp_path / "backup"
    folder.mkdir()

    def make(n: int) -> Path:
        src = tmp_path / "live.db"
        _store_file(src, n)
        copy = folder / "copy.db"
        copy.write_bytes(src.read_bytes())
        os.chmod(copy, 0o444)
        os.chmod(folder, 0o555)
        return copy

    try:
        yield make
    finally:
        os.chmod(folder, 0o755)


def test_a_backup_copy_in_a_read_only_folder_is_verified_by_workers(
    read_only_copy: Callable[[int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteLogStore, "PARALLEL_MIN_ENTRIES", 2)
    monkeypatch.setattr(SqliteLogStore, "MIN_ENTRIES_PER_WORKER", 1)
    monkeypatch.setattr(SqliteLogStore, "CHUNK_ROWS", 4)
    ran: list[bool] = []
    real = SqliteLogStore._check_with_workers

    def counted(self: SqliteLogStore, *args: object) -> list[int | None]:
        counts = real(self, *args)  # type: ignore[arg-type]
        ran.append(True)
        return counts

    monkeypatch.setattr(SqliteLogStore, "_check_with_workers", counted)
    copy = read_only_copy(40)
    before = _digest(copy)
    with agentstore.open(sqlite_policy(copy, verify_workers=3), read_only=True) as store:
        assert store.log("s", writer="w").verify() == 40
    assert ran == [True]  # the workers read the copy too, and found it whole
    assert _digest(copy) == before
    assert _folder(copy) == ["copy.db"]


def test_a_backup_copy_with_a_flipped_byte_is_caught_read_only(
    read_only_copy: Callable[[int], Path],
) -> None:
    copy = read_only_copy(5)
    os.chmod(copy.parent, 0o755)
    os.chmod(copy, 0o644)
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 3")
    conn.close()
    os.chmod(copy, 0o444)
    os.chmod(copy.parent, 0o555)
    with (
        agentstore.open(sqlite_policy(copy), read_only=True) as store,
        pytest.raises(agentstore.ChainBroken) as info,
    ):
        store.log("s", writer="w").verify()
    assert info.value.seq == 3


# -- as another user: tests run as root, which file modes do not stop --------------------


def _as_nobody(body: Callable[[], str]) -> str:
    """``body()`` in a forked child running as user nobody; what it returned, or its error.

    The child imports nothing new (the interpreter's folder may be closed to nobody): the
    caller warms every code path first, as root.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = body()
        except BaseException as exc:
            out = f"{type(exc).__name__}: {exc}"
        os.write(write, out.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return out


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder root owns and others may read but not write (tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="agentstore-ro-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        import shutil

        shutil.rmtree(folder)


def _verify(db: Path) -> str:
    with agentstore.open(sqlite_policy(db), read_only=True) as store:
        return f"ok {store.log('s', writer='w').verify()} {store.audit.verify()}"


def test_another_users_readable_file_is_verified_read_only(shared_folder: Path) -> None:
    db = shared_folder / "theirs.db"
    _store_file(db)
    os.chmod(db, 0o644)
    before = _digest(db)
    assert _verify(db) == "ok 3 1"  # as root first: every module is loaded before the fork
    assert _as_nobody(lambda: _verify(db)) == "ok 3 1"
    assert _digest(db) == before
    assert _folder(db) == ["theirs.db"]


def test_an_unreadable_file_is_permission_denied_never_read_only(shared_folder: Path) -> None:
    db = shared_folder / "private.db"
    _store_file(db)
    os.chmod(db, 0o600)
    assert _verify(db) == "ok 3 1"
    out = _as_nobody(lambda: _verify(db))
    assert out.startswith("BackendUnavailable: permission denied"), out
    assert str(db) in out
    assert "read-only" not in out and "writable" not in out


def test_another_users_file_is_verified_while_its_owner_writes(shared_folder: Path) -> None:
    db = shared_folder / "live.db"
    _store_file(db)
    os.chmod(db, 0o644)
    assert _verify(db) == "ok 3 1"
    with open_file_store(db) as owner:  # the owner's store stays open: -wal and -shm exist
        owner.log("s", writer="w").append(b"while open")
        assert sorted(_folder(db)) == ["live.db", "live.db-shm", "live.db-wal"]
        assert _as_nobody(lambda: _verify(db)) == "ok 4 1"
        owner.log("s", writer="w").append(b"after")
    assert _folder(db) == ["live.db"]


def test_an_older_store_is_never_upgraded_without_create(tmp_path: Path) -> None:
    from agentstore.sql.schema import CREATE_META, META_TABLE, VERSION_KEY
    from agentstore_sqlite.backend import open_file
    from agentstore_sqlite.schema import SQLITE_LAYOUT as layout

    db = tmp_path / "v2.db"
    backend = open_file(db)
    with backend.transaction():  # a database exactly as schema version 2 left it
        backend.exec(layout.sql(CREATE_META))
        for version in (1, 2):
            for statement in layout.migrations[version]:
                backend.exec(layout.sql(statement))
        backend.exec(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)", (VERSION_KEY, "2"))
    backend.close()
    before = _objects(db)
    for flags in ({"create": False}, {"read_only": True}):
        with pytest.raises(agentstore.SchemaVersionError) as info:
            agentstore.open(sqlite_policy(db), **flags)
        assert "version 2" in str(info.value) and "agentstore.open(policy)" in str(info.value)
    assert _objects(db) == before
    with open_file_store(db) as store:  # an open that may create upgrades it
        assert store.logs() == []
    assert _objects(db) != before
