"""The database file: where it goes, its mode, its settings, and paths that cannot work."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import agentstore
import pytest
from agentstore import BackendUnavailable, InvalidPolicy, SchemaVersionError, StoreError
from agentstore.sql import SCHEMA_VERSION
from agentstore_sqlite import SqliteConfig
from agentstore_sqlite.driver import open_backend
from sqlite_helpers import open_file_store, sqlite_policy


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


# -- creation and settings -----------------------------------------------------------------


def test_new_file_is_private_to_its_owner(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with open_file_store(db) as store:
        store.log("s", writer="w").append(b"x")
        assert _mode(db) == 0o600
        for side in ("new.db-wal", "new.db-shm"):
            assert _mode(tmp_path / side) == 0o600  # SQLite copies the database's mode
    assert _mode(db) == 0o600


def test_unusual_characters_in_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "dir with spaces %20 é"
    folder.mkdir()
    db = folder / "my db #1?mode=ro&x.db"
    with open_file_store(db) as store:
        store.log("s", writer="w").append(b"x")
    assert db.is_file()
    assert sorted(p.name for p in folder.iterdir()) == [db.name]
    with open_file_store(db) as store:
        assert store.log("s", writer="w").verify() == 1


def test_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    db.touch(mode=0o640)
    os.chmod(db, 0o640)
    with open_file_store(db) as store:
        store.generation("g").bump()
    assert _mode(db) == 0o640


def test_default_settings_wal_full_busy_timeout(tmp_path: Path) -> None:
    # FULL: an acknowledged commit survives power loss, as DESIGN promises.
    backend = open_backend(SqliteConfig(path=str(tmp_path / "d.db")))
    try:
        assert backend.query("PRAGMA journal_mode") == [("wal",)]
        assert backend.query("PRAGMA synchronous") == [(2,)]  # FULL
        assert backend.query("PRAGMA busy_timeout") == [(10_000,)]
    finally:
        backend.close()


def test_settings_are_applied(tmp_path: Path) -> None:
    config = SqliteConfig(
        path=str(tmp_path / "d.db"), synchronous="normal", busy_timeout=2.5, journal_mode="delete"
    )
    backend = open_backend(config)
    try:
        assert backend.query("PRAGMA journal_mode") == [("delete",)]
        assert backend.query("PRAGMA synchronous") == [(1,)]  # NORMAL
        assert backend.query("PRAGMA busy_timeout") == [(2500,)]
    finally:
        backend.close()


def test_config_defaults_and_validation() -> None:
    config = SqliteConfig()
    assert (config.path, config.synchronous, config.journal_mode) == (
        "agentstore.db",
        "FULL",
        "WAL",
    )
    assert SqliteConfig(synchronous="normal").synchronous == "NORMAL"  # still selectable
    assert config.busy_timeout > 0
    with pytest.raises(ValueError):
        SqliteConfig(synchronous="SOMETIMES")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SqliteConfig(busy_timeout=-1)
    with pytest.raises(ValueError):
        SqliteConfig(path="")


@pytest.mark.parametrize(
    ("section", "toml_path"),
    [
        ({"synchronous": "SOMETIMES"}, "store.sqlite.synchronous"),
        ({"pth": "x.db"}, "store.sqlite.pth"),
        ({"busy_timeout": 0}, "store.sqlite.busy_timeout"),
    ],
)
def test_bad_section_names_the_toml_path(
    tmp_path: Path, section: dict[str, object], toml_path: str
) -> None:
    policy = agentstore.StorePolicy("sqlite", sections={"sqlite": section})
    with pytest.raises(InvalidPolicy) as info:
        agentstore.open(policy)
    assert info.value.path == toml_path


def test_relative_path_is_relative_to_the_policy_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "agentstore.toml").write_text(
        '[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "data.db"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with agentstore.open(conf / "agentstore.toml") as store:
        store.generation("g").bump()
    assert (conf / "data.db").is_file()
    assert list(elsewhere.iterdir()) == []


def test_open_with_no_policy_uses_a_sqlite_file_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTSTORE_CONFIG", raising=False)
    with agentstore.open() as store:
        assert set(store.routes.values()) == {"sqlite"}
        store.log("conv:demo", writer="alice").append(b"hello world")
    assert (tmp_path / "agentstore.db").is_file()
    with agentstore.open() as store:
        assert store.log("conv:demo", writer="alice").verify() == 1


def test_memory_databases_are_private_and_leave_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with (
        agentstore.open(sqlite_policy(":memory:")) as a,
        agentstore.open(sqlite_policy(":memory:")) as b,
    ):
        a.generation("g").bump()
        assert a.generation("g").current() == 1
        assert b.generation("g").current() == 0
        assert a.log("s", writer="w").append_many([b"1", b"2"])[-1].seq == 2
        assert a.log("s", writer="w").verify() == 2
    assert list(tmp_path.iterdir()) == []


def test_discovery_does_not_import_sqlite3() -> None:
    code = textwrap.dedent(
        """
        import sys, agentstore
        assert "sqlite" in agentstore.default_registry().drivers
        print(sorted(m for m in ("sqlite3", "agentstore_sqlite.backend") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# -- paths that cannot work ----------------------------------------------------------------


def test_missing_folder_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "deeper" / "x.db"
    with pytest.raises(BackendUnavailable) as info:
        open_file_store(db)
    assert str(db) in str(info.value)
    assert "does not exist" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_create_false_refuses_a_missing_file_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "typo.db"
    with pytest.raises(BackendUnavailable) as info:
        agentstore.open(sqlite_policy(db), create=False)
    assert str(db) in str(info.value)
    assert "does not exist" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    with open_file_store(db) as store:  # create=True (the default) makes it
        store.log("s", writer="w").append(b"x")
    with agentstore.open(sqlite_policy(db), create=False) as store:  # and now it exists
        assert store.log("s", writer="w").verify() == 1


def test_a_failed_configure_never_deletes_a_new_file_another_process_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentstore_sqlite.backend as backend_module

    db = tmp_path / "raced.db"

    def other_process_writes_then_configure_fails(*args: object) -> None:
        # Between our creating the file and configuring it, another process opened it
        # and committed; its write was acknowledged, so it must survive our failure.
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("PRAGMA journal_mode = WAL")
            other.execute("CREATE TABLE theirs (v TEXT)")
            other.execute("INSERT INTO theirs VALUES ('acknowledged')")
        finally:
            other.close()
        raise BackendUnavailable(f"{db}: cannot configure")

    monkeypatch.setattr(backend_module, "_configure", other_process_writes_then_configure_fails)
    with pytest.raises(BackendUnavailable):
        open_file_store(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT v FROM theirs").fetchall() == [("acknowledged",)]
    conn.close()


def test_a_failed_connect_leaves_at_most_an_empty_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentstore_sqlite.backend as backend_module

    db = tmp_path / "noconnect.db"

    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(backend_module.sqlite3, "connect", refuse)
    with pytest.raises(BackendUnavailable) as info:
        open_file_store(db)
    assert str(db) in str(info.value)
    monkeypatch.undo()
    assert _siblings(db) == ["noconnect.db"]
    assert db.stat().st_size == 0
    assert _mode(db) == 0o600
    with open_file_store(db) as store:  # an empty file is an empty database: usable
        assert store.log("s", writer="w").append(b"x").seq == 1


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    with pytest.raises(BackendUnavailable) as info:
        open_file_store(folder)
    assert str(folder) in str(info.value)
    assert "folder" in str(info.value)
    assert list(folder.iterdir()) == []
    assert list(tmp_path.iterdir()) == [folder]


@pytest.mark.parametrize(
    "content",
    [b"hello, I am a text file\n" * 200, b"hi", b"SQLite format 2\x00" + b"\x00" * 200],
)
def test_a_file_that_is_not_sqlite_is_left_alone(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "notes.txt"
    db.write_bytes(content)
    before = _digest(db)
    with pytest.raises(BackendUnavailable) as info:
        open_file_store(db)
    assert str(db) in str(info.value)
    assert "not a SQLite database" in str(info.value)
    assert _digest(db) == before
    assert _siblings(db) == ["notes.txt"]


def test_a_read_only_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    with open_file_store(db) as store:
        store.log("s", writer="w").append(b"kept")
    os.chmod(db, 0o444)
    before = _digest(db)
    with pytest.raises(BackendUnavailable) as info:
        open_file_store(db)
    assert str(db) in str(info.value)
    assert "read-only" in str(info.value)
    assert _digest(db) == before
    assert _siblings(db) == ["ro.db"]


def test_a_corrupt_database_is_backend_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    with open_file_store(db) as store:
        store.log("s", writer="w").append_many([b"x" * 1000] * 50)
    raw = bytearray(db.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # wreck the first page's b-tree
    db.write_bytes(bytes(raw))
    with pytest.raises(BackendUnavailable) as info, open_file_store(db) as store:
        store.log("s", writer="w").verify()
    assert str(db) in str(info.value)


def test_a_newer_schema_is_refused_on_open(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with open_file_store(db) as store:
        store.generation("g").bump()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE agentstore_meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(SchemaVersionError) as info:
        open_file_store(db)
    assert "version 99" in str(info.value)
    assert f"version {SCHEMA_VERSION}" in str(info.value)
    with sqlite3.connect(db) as conn:
        version = conn.execute("SELECT value FROM agentstore_meta").fetchall()
    conn.close()
    assert version == [("99",)]


def test_a_lock_held_past_busy_timeout_is_backend_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    with open_file_store(db, busy_timeout=0.2) as store:
        log = store.log("s", writer="w")
        log.append(b"first")
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(BackendUnavailable) as info:
                log.append(b"blocked")
            assert str(db) in str(info.value)
            assert "locked" in str(info.value)
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert log.append(b"after").seq == 2
        assert log.verify() == 2


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = open_file_store(tmp_path / "c.db")
    log = store.log("s", writer="w")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        log.append(b"late")
