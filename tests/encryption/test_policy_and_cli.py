"""[store.encryption] as a reviewed file writes it, and the commands around keys:
``keygen``, ``validate`` and ``rotate-key``. No key ever reaches an error or the output."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import agentstore
import pytest
from agentstore import StorePolicy
from agentstore.cli import cli
from agentstore.crypto import Keyring, generate_key, key_id
from agentstore.crypto.keys import parse_key
from agentstore.errors import InvalidPolicy, MissingEnvironmentVariable
from click.testing import CliRunner
from encrypted import KEY_ENV


def _policy(tmp_path: Path, encryption: str) -> Path:
    path = tmp_path / "agentstore.toml"
    path.write_text(
        '[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "s.db"\n' + encryption,
        encoding="utf-8",
    )
    return path


def test_a_key_written_inline_is_refused_without_echoing_it() -> None:
    text = generate_key()
    with pytest.raises(InvalidPolicy) as caught:
        StorePolicy.loads(f'[store]\n[store.encryption]\nkey = "{text}"\n')
    assert caught.value.path == "store.encryption.key"
    assert text not in caught.value.message
    assert "env" in caught.value.message


@pytest.mark.parametrize(
    ("table", "where", "words"),
    [
        ('kye = { env = "K" }', "store.encryption.kye", "did you mean 'key'"),
        ('key = { env = "K" }\nkey_file = "k"', "store.encryption", "exactly one"),
        ("keys = []", "store.encryption.keys", "non-empty list"),
        ('keys = ["abc"]', "store.encryption.keys[0]", "never written inline"),
        ("", "store.encryption", "exactly one"),
    ],
)
def test_misshapen_tables_name_their_path(table: str, where: str, words: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        StorePolicy.loads(f"[store]\n[store.encryption]\n{table}\n")
    assert caught.value.path == where
    assert words in caught.value.message


def test_the_table_round_trips_through_dumps_as_references() -> None:
    text = (
        '[store]\nbackend = "memory"\n\n[store.encryption]\n'
        'keys = [{ env = "NEW" }, { key_file = "old.key" }]\n'
    )
    policy = StorePolicy.loads(text)
    dumped = policy.dumps()
    assert 'env = "NEW"' in dumped
    assert StorePolicy.loads(dumped) == policy
    assert policy.encryption == {"keys": [{"env": "NEW"}, {"key_file": "old.key"}]}


def test_an_unset_key_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    policy = StorePolicy.load(
        _policy(tmp_path, f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n')
    )
    with pytest.raises(MissingEnvironmentVariable) as caught:
        agentstore.open(policy)
    assert KEY_ENV in caught.value.message
    assert not (tmp_path / "s.db").exists()


def test_a_variable_holding_no_key_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "not-a-key-but-maybe-a-password")
    policy = StorePolicy.load(
        _policy(tmp_path, f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n')
    )
    with pytest.raises(InvalidPolicy) as caught:
        agentstore.open(policy)
    assert f"${KEY_ENV}" in caught.value.message
    assert "maybe-a-password" not in caught.value.message


def test_a_key_file_must_be_private_and_is_found_beside_the_policy(tmp_path: Path) -> None:
    key_file = tmp_path / "store.key"
    key_file.write_text(generate_key() + "\n", encoding="ascii")
    os.chmod(key_file, 0o644)
    policy = StorePolicy.load(_policy(tmp_path, '[store.encryption]\nkey_file = "store.key"\n'))
    with pytest.raises(InvalidPolicy, match="chmod 600"):
        agentstore.open(policy)
    os.chmod(key_file, 0o600)
    with agentstore.open(policy) as store:
        store.credentials.put_secret("a", b"v")
        assert store.credentials.get_secret("a") == b"v"
        expected = key_id(parse_key(key_file.read_text(encoding="ascii"), "k")).hex()
        assert store.keyring is not None and store.keyring.key_ids == [expected]


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    policy = StorePolicy.load(_policy(tmp_path, '[store.encryption]\nkey_file = "nope.key"\n'))
    with pytest.raises(InvalidPolicy, match=r"nope\.key does not exist"):
        agentstore.open(policy)


def test_keygen_prints_a_fresh_key_and_its_id() -> None:
    result = CliRunner().invoke(cli, ["keygen"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert len(parse_key(key, "k")) == 32
    assert f"key id {key_id(parse_key(key, 'k')).hex()}" in result.stderr
    assert CliRunner().invoke(cli, ["keygen"]).stdout.strip() != key


def test_keygen_writes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "k.key"
    result = CliRunner().invoke(cli, ["keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = out.read_text(encoding="ascii").strip()
    assert key not in result.output
    again = CliRunner().invoke(cli, ["keygen", "--out", str(out)])
    assert again.exit_code == 2
    assert out.read_text(encoding="ascii").strip() == key


def test_validate_warns_about_unencrypted_credentials_on_a_persistent_driver(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(cli, ["validate", str(_policy(tmp_path, ""))])
    assert result.exit_code == 0, result.output
    assert "credentials are stored unencrypted on driver 'sqlite'" in result.stderr
    memory = tmp_path / "memory.toml"
    memory.write_text('[store]\nbackend = "memory"\n', encoding="utf-8")
    quiet = CliRunner().invoke(cli, ["validate", str(memory)])
    assert quiet.exit_code == 0
    assert "unencrypted" not in quiet.output


def test_validate_names_key_ids_never_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv(KEY_ENV, key)
    path = _policy(tmp_path, f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n')
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    kid = key_id(parse_key(key, "k")).hex()
    assert f"key ids {kid}" in result.stdout
    assert "unencrypted" not in result.output
    as_json = CliRunner().invoke(cli, ["validate", "--json", str(path)])
    assert kid in as_json.stdout
    for output in (result.output, as_json.output):
        assert key not in output and key.rstrip("=") not in output


def test_without_cryptography_a_key_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cryptography' or name.startswith('cryptography.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import agentstore\n"
        "try:\n"
        "    agentstore.open(sys.argv[1])\n"
        "except agentstore.ConfigError as exc:\n"
        "    print(exc.message)\n"
    )
    env = {**os.environ, KEY_ENV: generate_key()}
    path = _policy(tmp_path, f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n')
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, check=True
    )
    assert "agentstore-core[crypto]" in out.stdout


def test_cold_import_does_not_load_cryptography() -> None:
    code = "import sys, agentstore, agentstore.cli; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_rotation_keyring_prefers_the_first_key() -> None:
    new, old = generate_key(), generate_key()
    ring = Keyring([parse_key(new, "n"), parse_key(old, "o")])
    assert ring.primary == key_id(parse_key(new, "n")).hex()


def test_rotate_key_re_encrypts_every_secret_and_is_resumable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("AGENTSTORE_TEST_OLD_KEY", old)
    monkeypatch.setenv(KEY_ENV, new)
    path = _policy(tmp_path, '[store.encryption]\nkey = { env = "AGENTSTORE_TEST_OLD_KEY" }\n')
    with agentstore.open(StorePolicy.load(path)) as store:
        for i in range(30):
            store.credentials.put_secret(f"s{i:02}", b"value-%d" % i)
    path.write_text(
        path.read_text().split("[store.encryption]")[0]
        + "[store.encryption]\n"
        + f'keys = [{{ env = "{KEY_ENV}" }}, {{ env = "AGENTSTORE_TEST_OLD_KEY" }}]\n'
    )
    result = CliRunner().invoke(cli, ["rotate-key", str(path)])
    assert result.exit_code == 0, result.output
    new_id = key_id(parse_key(new, "n")).hex()
    assert f"rotated 30 secret(s) to key {new_id}; 0 already under it" in result.output
    assert new not in result.output and old not in result.output
    again = CliRunner().invoke(cli, ["rotate-key", str(path)])
    assert "rotated 0 secret(s)" in again.output and "30 already under it" in again.output
    # the old key can now be dropped
    path.write_text(
        path.read_text().split("[store.encryption]")[0]
        + f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n'
    )
    with agentstore.open(StorePolicy.load(path)) as store:
        assert store.credentials.get_secret("s07") == b"value-7"
        assert list(store.credentials.names()) == [f"s{i:02}" for i in range(30)]


def test_rotate_key_without_encryption_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["rotate-key", str(_policy(tmp_path, ""))])
    assert result.exit_code == 2
    assert "no [store.encryption]" in result.output


def test_rotate_key_on_a_missing_store_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a mistyped path (or schema) must fail, not create an empty store and rotate nothing
    monkeypatch.setenv(KEY_ENV, generate_key())
    path = _policy(tmp_path, f'[store.encryption]\nkey = {{ env = "{KEY_ENV}" }}\n')
    result = CliRunner().invoke(cli, ["rotate-key", str(path)])
    assert result.exit_code == 2, result.output
    assert "s.db does not exist" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agentstore.toml"]


def test_rotate_key_failing_is_one_error_line_and_debug_adds_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("AGENTSTORE_TEST_OLD_KEY", old)
    monkeypatch.setenv(KEY_ENV, new)
    path = _policy(tmp_path, '[store.encryption]\nkey = { env = "AGENTSTORE_TEST_OLD_KEY" }\n')
    with agentstore.open(StorePolicy.load(path)) as store:
        store.credentials.put_secret("s", b"value")
    # the old key dropped before rotating: the secret cannot be read
    path.write_text(path.read_text().replace("AGENTSTORE_TEST_OLD_KEY", KEY_ENV))
    result = CliRunner().invoke(cli, ["rotate-key", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: secret 's' is encrypted under key")
    debug = CliRunner().invoke(cli, ["--debug", "rotate-key", str(path)])
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr
    for shown in (result.output, debug.output):
        assert old not in shown and new not in shown
