"""Encryption and signing inside tenant views: an envelope is bound to its tenant, a
tenant's checkpoints cover only its own chains, and the operator's rotation reaches every
tenant's secrets."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import agentstore
import agentstore.aio
import pytest
from agentstore import ChainBroken, DecryptionFailed, InvalidInput, StorePolicy
from agentstore.cli import cli
from agentstore.crypto import MAX_ENCRYPTED_SECRET_BYTES, generate_key
from agentstore.crypto.keys import key_id, parse_key
from agentstore.crypto.signing import Signer
from click.testing import CliRunner
from encrypted import ENCRYPTED, KEY_ENV, sqlite_policy

SECRET = b"tenant-secret-value-0123456789"
KEY = os.urandom(32)


def test_a_tenants_envelope_moved_to_another_tenant_fails(tmp_path: Path, key: str) -> None:
    db = tmp_path / "s.db"
    with agentstore.open(sqlite_policy(db, ENCRYPTED)) as store:
        store.tenant("acme").credentials.put_secret("k", SECRET)
        store.tenant("beta").credentials.put_secret("k", b"beta's own")
    raw = db.read_bytes() + (
        db.with_name("s.db-wal").read_bytes() if db.with_name("s.db-wal").exists() else b""
    )
    assert SECRET not in raw
    con = sqlite3.connect(db)
    with con:
        (value,) = con.execute(
            "SELECT value FROM agentstore_credentials WHERE name = 'agentstore:t:acme:k'"
        ).fetchone()
        con.execute(
            "UPDATE agentstore_credentials SET value = ? WHERE name = 'agentstore:t:beta:k'",
            (value,),
        )
    con.close()
    with agentstore.open(sqlite_policy(db, ENCRYPTED)) as store:
        assert store.tenant("acme").credentials.get_secret("k") == SECRET
        with pytest.raises(DecryptionFailed) as failed:
            store.tenant("beta").credentials.get_secret("k")
        assert SECRET.decode() not in str(failed.value)


def test_a_tenants_checkpoints_cover_its_chains_only(tmp_path: Path) -> None:
    trusted = [Signer(KEY).fingerprint]
    with agentstore.open(sqlite_policy(tmp_path / "s.db", None)) as store:
        acme, beta = store.tenant("acme"), store.tenant("beta")
        acme.log("conv", "a", signing_key=KEY).append_many([b"1", b"2"])
        assert acme.log("conv", "a").verify(trusted=trusted) == 2
        beta.log("conv", "a").append_many([b"1", b"2"])  # the same chain, unsigned
        with pytest.raises(ChainBroken) as broken:
            beta.log("conv", "a").verify(trusted=trusted)
        assert broken.value.seq == 1
        store.log("conv", "a").append_many([b"1", b"2"])
        with pytest.raises(ChainBroken):
            store.log("conv", "a").verify(trusted=trusted)
        assert ("agentstore:checkpoints", "a") in acme.logs()
        assert ("agentstore:checkpoints", "a") not in beta.logs()


def test_a_tenants_checkpoints_copied_to_another_tenant_vouch_for_nothing(
    tmp_path: Path,
) -> None:
    """A checkpoint signs the stored stream name, tenant included: one tenant's signed
    history copied under another tenant's names (by whoever can write the storage) does
    not verify there, even for a writer whose key both tenants' trust lists name."""
    trusted = [Signer(KEY).fingerprint]
    with agentstore.open(sqlite_policy(tmp_path / "s.db", None)) as store:
        acme, beta = store.tenant("acme"), store.tenant("beta")
        acme.log("conv", "a", signing_key=KEY).append_many([b"1", b"2"])
        beta.log("conv", "a").append_many([b"1", b"2"])  # the same chain, unsigned
        logs = store._cap("logs")  # the storage, as an administrator edits it
        for e in list(logs._entries("agentstore:t:acme:agentstore:checkpoints", "a", 0)):
            logs._append("agentstore:t:beta:agentstore:checkpoints", "a", e.payload)
        assert acme.log("conv", "a").verify(trusted=trusted) == 2
        with pytest.raises(ChainBroken) as broken:
            beta.log("conv", "a").verify(trusted=trusted)
        assert broken.value.seq == 1


def test_rotate_key_reaches_every_tenants_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("AGENTSTORE_TEST_OLD_KEY", old)
    monkeypatch.setenv(KEY_ENV, new)
    path = tmp_path / "agentstore.toml"
    base = f'[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "{tmp_path / "s.db"}"\n'
    path.write_text(base + '[store.encryption]\nkey = { env = "AGENTSTORE_TEST_OLD_KEY" }\n')
    with agentstore.open(StorePolicy.load(path)) as store:
        for tenant in ("acme", "beta"):
            store.tenant(tenant).credentials.put_secret("k", tenant.encode())
        store.credentials.put_secret("k", b"root")
    path.write_text(
        base + f'[store.encryption]\nkeys = [{{ env = "{KEY_ENV}" }}, '
        '{ env = "AGENTSTORE_TEST_OLD_KEY" }]\n'
    )
    result = CliRunner().invoke(cli, ["rotate-key", str(path)])
    assert result.exit_code == 0, result.output
    new_id = key_id(parse_key(new, "n")).hex()
    assert f"rotated 3 secret(s) to key {new_id}" in result.output
    path.write_text(base + f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n')
    with agentstore.open(StorePolicy.load(path)) as store:
        assert store.tenant("acme").credentials.get_secret("k") == b"acme"
        assert store.tenant("beta").credentials.get_secret("k") == b"beta"
        assert store.credentials.get_secret("k") == b"root"


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "aio"])
def test_a_tenants_secret_over_the_encrypted_limit_is_refused_and_not_stored(
    tmp_path: Path, key: str, asynchronous: bool
) -> None:
    """With a key, a secret may be at most MAX_ENCRYPTED_SECRET_BYTES in a tenant view
    too: the view once checked only the unencrypted limit, so its envelope, past what a
    driver takes, was stored."""
    too_big = b"x" * (MAX_ENCRYPTED_SECRET_BYTES + 1)
    policy = sqlite_policy(tmp_path / "s.db", ENCRYPTED)
    if asynchronous:

        async def put() -> list[str]:
            async with agentstore.aio.open(policy) as astore:
                acme = astore.tenant("acme")
                with pytest.raises(InvalidInput, match=r"secret 'big' is \d+ bytes"):
                    await acme.credentials.put_secret("big", too_big)
                await acme.credentials.put_secret("max", too_big[:-1])
                return [name async for name in astore.credentials.names()]

        names = asyncio.run(put())
    else:
        with agentstore.open(policy) as store:
            acme = store.tenant("acme")
            with pytest.raises(InvalidInput, match=r"secret 'big' is \d+ bytes"):
                acme.credentials.put_secret("big", too_big)
            acme.credentials.put_secret("max", too_big[:-1])
            names = list(store.credentials.names())
    assert names == ["agentstore:t:acme:max"]
