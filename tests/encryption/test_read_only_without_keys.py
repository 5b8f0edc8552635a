"""A store opened read-only without its encryption keys: chains verify and secrets' names
list (an auditor needs no key), while every secret value is refused, saying which key was
missing. Any other open still needs the keys."""

from __future__ import annotations

from pathlib import Path

import agentstore
import pytest
from agentstore import StorePolicy
from agentstore.cli import cli
from agentstore.crypto import generate_key
from agentstore.errors import (
    DecryptionFailed,
    InvalidPolicy,
    MissingEnvironmentVariable,
    StoreError,
)
from click.testing import CliRunner
from encrypted import KEY_ENV

VALUE = b"the-secret-value-0123456789"


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A SQLite store with two secrets and a log, written under a key that is then unset."""
    key = generate_key()
    monkeypatch.setenv(KEY_ENV, key)
    path = tmp_path / "agentstore.toml"
    path.write_text(
        '[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "s.db"\n'
        f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n',
        encoding="utf-8",
    )
    with agentstore.open(StorePolicy.load(path)) as store:
        store.credentials.put_secret("api-key", VALUE)
        store.tenant("acme").credentials.put_secret("token", VALUE)
        store.log("conv", writer="w").append_many([b"a", b"b"])
    monkeypatch.delenv(KEY_ENV)
    return path, key


def test_a_read_only_open_without_the_key_reads_all_but_secret_values(
    written: tuple[Path, str],
) -> None:
    path, key = written
    before = (path.parent / "s.db").read_bytes()
    with agentstore.open(StorePolicy.load(path), read_only=True) as store:
        assert list(store.credentials.names()) == ["agentstore:t:acme:token", "api-key"]
        assert store.log("conv", writer="w").verify() == 2
        assert [e.payload for e in store.log("conv", writer="w").entries()] == [b"a", b"b"]
        for read in (
            lambda: store.credentials.get_secret("api-key"),
            lambda: store.tenant("acme").credentials.get_secret("token"),
        ):
            with pytest.raises(DecryptionFailed) as caught:
                read()
            message = caught.value.message
            assert KEY_ENV in message and "read-only" in message
            assert VALUE.decode() not in message and key not in message
        with pytest.raises(StoreError):
            store.credentials.put_secret("api-key", b"other")
        assert "locked" in repr(store.keyring) and key not in repr(store.keyring)
    assert (path.parent / "s.db").read_bytes() == before


def test_the_async_store_opened_read_only_refuses_values_too(
    written: tuple[Path, str],
) -> None:
    import asyncio

    import agentstore.aio

    path, _ = written

    async def main() -> None:
        async with agentstore.aio.open(StorePolicy.load(path), read_only=True) as store:
            assert "api-key" in [n async for n in store.credentials.names()]
            with pytest.raises(DecryptionFailed, match=KEY_ENV):
                await store.credentials.get_secret("api-key")

    asyncio.run(main())


def test_any_other_open_still_needs_the_key(written: tuple[Path, str]) -> None:
    path, _ = written
    for create in (True, False):
        with pytest.raises(MissingEnvironmentVariable):
            agentstore.open(StorePolicy.load(path), create=create)


def test_verify_and_list_run_without_the_key_and_validate_still_needs_it(
    written: tuple[Path, str],
) -> None:
    path, key = written
    runner = CliRunner()
    verified = runner.invoke(cli, ["--config", str(path), "verify"])
    assert verified.exit_code == 0, verified.output
    listed = runner.invoke(cli, ["--config", str(path), "list", "credentials"])
    assert listed.exit_code == 0, listed.output
    assert "api-key" in listed.stdout
    checked = runner.invoke(cli, ["validate", str(path)])
    assert checked.exit_code != 0
    assert KEY_ENV in checked.output
    for result in (verified, listed, checked):
        assert key not in result.output and VALUE.decode() not in result.output


def test_a_missing_key_file_is_absent_but_a_bad_key_still_fails_a_read_only_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "k.key"
    key_file.write_text(generate_key(), encoding="ascii")
    key_file.chmod(0o600)
    path = tmp_path / "agentstore.toml"
    path.write_text(
        '[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "s.db"\n'
        '[store.encryption]\nkey_file = "k.key"\n',
        encoding="utf-8",
    )
    with agentstore.open(StorePolicy.load(path)) as store:
        store.credentials.put_secret("api-key", VALUE)
    key_file.unlink()
    with agentstore.open(StorePolicy.load(path), read_only=True) as store:
        assert list(store.credentials.names()) == ["api-key"]
        with pytest.raises(DecryptionFailed, match=r"k\.key does not exist"):
            store.credentials.get_secret("api-key")

    key_file.write_text(generate_key(), encoding="ascii")
    key_file.chmod(0o644)  # others may read it: a problem to fix, not an absent key
    with pytest.raises(InvalidPolicy, match="chmod 600"):
        agentstore.open(StorePolicy.load(path), read_only=True)
    key_file.write_text("not-a-key", encoding="ascii")
    key_file.chmod(0o600)
    with pytest.raises(InvalidPolicy, match="is not an encryption key"):
        agentstore.open(StorePolicy.load(path), read_only=True)
