"""After put_secret, the plaintext is nowhere in the SQLite file or its WAL; an edited or
swapped envelope is caught on read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import agentstore
import pytest
from agentstore.crypto import DecryptionFailed
from encrypted import ENCRYPTED, sqlite_policy

SECRET = b"sk-live-PLAINTEXT-4b1d9e-never-at-rest"


def test_sqlite_file_and_wal_never_hold_the_plaintext(tmp_path: Path, key: str) -> None:
    db = tmp_path / "s.db"
    store = agentstore.open(sqlite_policy(db, ENCRYPTED))
    try:
        for i in range(50):
            store.credentials.put_secret(f"api-{i}", SECRET + b"%d" % i)
        wal = Path(str(db) + "-wal")
        assert wal.exists() and wal.stat().st_size > 0  # the WAL is written, and scanned
        for file in (db, wal):
            data = file.read_bytes()
            assert SECRET not in data, file
            assert b"PLAINTEXT" not in data, file
        assert store.credentials.get_secret("api-7") == SECRET + b"7"
    finally:
        store.close()
    assert SECRET not in db.read_bytes()  # checkpointed into the file at close


def test_sqlite_an_edited_or_swapped_envelope_is_refused(tmp_path: Path, key: str) -> None:
    db = tmp_path / "s.db"
    with agentstore.open(sqlite_policy(db, ENCRYPTED)) as store:
        store.credentials.put_secret("a", SECRET)
        store.credentials.put_secret("b", b"other")
    con = sqlite3.connect(db)
    with con:
        (value,) = con.execute("SELECT value FROM agentstore_credentials WHERE name='a'").fetchone()
        edited = bytearray(value)
        edited[-1] ^= 1
        con.execute("UPDATE agentstore_credentials SET value=? WHERE name='a'", (bytes(edited),))
        con.execute("UPDATE agentstore_credentials SET value=? WHERE name='b'", (value,))
    con.close()
    with agentstore.open(sqlite_policy(db, ENCRYPTED)) as store:
        with pytest.raises(DecryptionFailed, match="'a' failed authentication"):
            store.credentials.get_secret("a")
        with pytest.raises(DecryptionFailed, match="'b' failed authentication"):
            store.credentials.get_secret("b")


def test_without_a_key_secrets_are_stored_as_today(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    with agentstore.open(sqlite_policy(db, None)) as store:
        store.credentials.put_secret("a", SECRET)
        assert store.keyring is None
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM agentstore_credentials").fetchone()[0] == SECRET
    con.close()
