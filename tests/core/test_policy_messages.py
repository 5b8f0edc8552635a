"""The policy errors a user meets: one line naming the TOML path and what to do, never a
value; every installed driver's section checked, used or not; no password written inline."""

from __future__ import annotations

import tomllib
from pathlib import Path

import agentstore
import pytest
from agentstore import (
    InvalidPolicy,
    MissingEnvironmentVariable,
    StorePolicy,
    UnknownDriver,
    default_registry,
)
from core_drivers import Recorder, private_registry, recording_spec
from pydantic import BaseModel, ConfigDict, field_validator


class Checked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "mem://"
    busy_timeout: float = 1.0

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith("mem://"):
            raise ValueError("must be a mem:// url")
        return value


def _checked() -> agentstore.Registry:
    return private_registry(recording_spec("db", Recorder(), config_model=Checked))


def test_unknown_key_in_a_driver_section_gets_the_keys_and_a_did_you_mean() -> None:
    policy = StorePolicy.loads('[store]\nbackend = "db"\n[store.db]\nbusytimeout = 5\n')
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(_checked())
    assert str(info.value) == (
        "store.db.busytimeout: unknown key 'busytimeout' in [store.db]; did you mean "
        "'busy_timeout'? (the keys are url, busy_timeout)"
    )


def test_unknown_key_in_the_sqlite_section() -> None:
    policy = StorePolicy.loads('[store]\nbackend = "sqlite"\n[store.sqlite]\nbusytimeout = 5\n')
    with pytest.raises(InvalidPolicy, match="did you mean 'busy_timeout'"):
        policy.resolve(default_registry())


def test_postgres_keys_are_named_as_written() -> None:
    policy = StorePolicy.loads('[store]\nbackend = "memory"\n[store.postgres]\nschem = "x"\n')
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(default_registry())
    assert "did you mean 'schema'?" in str(info.value)
    assert "schema_name" not in str(info.value)


def test_a_driver_name_in_the_wrong_case_gets_a_did_you_mean() -> None:
    with pytest.raises(UnknownDriver, match=r"unknown driver 'SQLite'.*did you mean 'sqlite'\?"):
        StorePolicy("SQLite").resolve(private_registry(recording_spec("sqlite", Recorder())))
    with pytest.raises(UnknownDriver, match=r"did you mean 'memory'\?"):
        StorePolicy("MEMORY").resolve(private_registry())


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("policy", "policies"),  # aa-storage's kind names, written in [store.capabilities]
        ("policy_store", "policies"),
        ("rate_limit_counter", "rate_limits"),
        ("session", "sessions"),
        ("log", "logs"),
        ("Audit", "audit"),
    ],
)
def test_an_unknown_capability_gets_a_did_you_mean(key: str, meant: str) -> None:
    text = f'[store]\nbackend = "memory"\n[store.capabilities]\n{key} = "memory"\n'
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(text)
    assert str(info.value) == (
        f"store.capabilities.{key}: unknown capability {key!r}; did you mean {meant!r}? "
        "(known: generations, logs, policies, audit, sessions, credentials, rate_limits, "
        "lifecycle)"
    )


def test_an_unknown_key_in_store_gets_a_did_you_mean() -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads('[store]\nbackedn = "sqlite"\n')
    assert str(info.value) == (
        "store.backedn: unknown key 'backedn' in [store]; did you mean 'backend'? (the keys "
        "are backend, capabilities and one [store.<driver>] table per driver)"
    )
    with pytest.raises(InvalidPolicy) as far:
        StorePolicy.loads('[store]\nbackend = "sqlite"\ncolour = 1\n')
    assert "did you mean" not in str(far.value)


def test_pydantic_prefixes_never_reach_the_user() -> None:
    policy = StorePolicy.loads('[store]\nbackend = "db"\n[store.db]\nurl = "http://x"\n')
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(_checked())
    assert str(info.value) == "store.db.url: must be a mem:// url"


@pytest.mark.parametrize("ref", ['{ evn = "X" }', '{ ENV = "X" }', '{ en = "X" }'])
def test_a_malformed_env_reference_is_named_as_one(ref: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(f'[store]\nbackend = "db"\n[store.db]\nurl = {ref}\n')
    assert info.value.path == "store.db.url"
    assert 'malformed { env = "NAME" } reference' in str(info.value)
    assert "valid string" not in str(info.value)


def test_a_table_where_a_value_belongs_is_not_called_an_invalid_string() -> None:
    policy = StorePolicy.loads('[store]\nbackend = "db"\n[store.db]\nurl = { a = 1, b = 2 }\n')
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(_checked())
    assert info.value.path == "store.db.url"
    assert '{ env = "NAME" }' in str(info.value)
    assert "Input should be" not in str(info.value)


def test_an_unset_variable_never_suggests_writing_the_value_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTSTORE_TEST_NO_URL", raising=False)
    policy = StorePolicy.loads(
        '[store]\nbackend = "db"\n[store.db]\nurl = { env = "AGENTSTORE_TEST_NO_URL" }\n'
    )
    with pytest.raises(MissingEnvironmentVariable) as info:
        policy.resolve(_checked())
    assert "AGENTSTORE_TEST_NO_URL is not set" in str(info.value)
    assert "inline" not in str(info.value)


# -- every installed driver's section is checked, in use or not -----------------------------


def test_an_unused_section_of_an_installed_driver_is_checked() -> None:
    registry = _checked()
    policy = StorePolicy.loads('[store]\nbackend = "memory"\n[store.db]\nurl = "http://x"\n')
    with pytest.raises(InvalidPolicy, match=r"store\.db\.url: must be a mem:// url"):
        policy.resolve(registry)
    policy = StorePolicy.loads('[store]\nbackend = "memory"\n[store.db]\nbusytimeout = 1\n')
    with pytest.raises(InvalidPolicy, match="did you mean 'busy_timeout'"):
        policy.resolve(registry)


def test_an_unused_section_with_an_unset_variable_is_still_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTSTORE_TEST_NO_URL", raising=False)
    policy = StorePolicy.loads(
        '[store]\nbackend = "memory"\n[store.db]\nurl = { env = "AGENTSTORE_TEST_NO_URL" }\n'
    )
    resolved = policy.resolve(_checked())
    assert set(resolved.drivers) == {"memory"}


def test_an_inline_password_in_an_unused_postgres_section_is_refused() -> None:
    text = '[store]\nbackend = "memory"\n[store.postgres]\nurl = "postgresql://u:hunter2@h/db"\n'
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(text)
    assert info.value.path == "store.postgres.url"
    assert "hunter2" not in str(info.value)
    # the driver's own model refuses it too, for a policy built in code
    built = StorePolicy(
        "memory", sections={"postgres": {"password": "hunter2", "url": "postgresql://h/db"}}
    )
    with pytest.raises(InvalidPolicy, match="env") as again:
        built.resolve(default_registry())
    assert "hunter2" not in str(again.value)


@pytest.mark.parametrize(
    "line",
    [
        'url = "postgresql://u:hunter2@h/db"',
        'url = "redis://:hunter2@127.0.0.1:6379/0"',
        'url = "host=h password=hunter2"',
        'url = "postgresql://u@h/db?password=hunter2"',
        'password = "hunter2"',
        'params = { sslpassword = "hunter2" }',
    ],
)
def test_a_password_written_inline_in_a_file_is_refused(line: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(f'[store]\nbackend = "memory"\n[store.anydriver]\n{line}\n')
    assert info.value.path is not None
    assert info.value.path.startswith("store.anydriver.")
    assert "hunter2" not in str(info.value)
    assert '{ env = "NAME" }' in str(info.value)


def test_dumps_never_writes_a_password() -> None:
    policy = StorePolicy("memory", sections={"db": {"url": "mem://u:hunter2@h/x"}})
    with pytest.raises(InvalidPolicy) as info:
        policy.dumps()
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(policy)
    assert hash(policy) == hash(
        StorePolicy("memory", sections={"db": {"url": "mem://u:hunter2@h/x"}})
    )


def test_a_url_without_a_password_is_kept() -> None:
    text = '[store]\nbackend = "memory"\n[store.kv]\nurl = "redis://127.0.0.1:6379/0"\n'
    assert StorePolicy.loads(text).sections["kv"] == {"url": "redis://127.0.0.1:6379/0"}


def test_a_section_whose_driver_is_not_installed_is_unused() -> None:
    policy = StorePolicy.loads(
        '[store]\nbackend = "memory"\n[store.postgres]\nx = 1\n[store.fancydb]\ny = 2\n'
    )
    resolved = policy.resolve(private_registry())
    assert resolved.unused == {
        "postgres": "[store.postgres] is unused: driver 'postgres' is not installed "
        "(`pip install agentstore-postgres` provides it)",
        "fancydb": "[store.fancydb] is unused: no installed driver is called 'fancydb'",
    }
    assert resolved.warnings == list(resolved.unused.values())


# -- open() given a database instead of a policy ---------------------------------------------


@pytest.mark.parametrize("source", ["x.db", "data/x.sqlite3"])
def test_open_given_a_database_file_shows_the_policy_to_write(source: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        agentstore.open(source)
    message = str(info.value)
    assert "takes a policy file or a StorePolicy" in message
    assert f'`[store.sqlite]` and `path = "{source}"`' in message
    assert "\n" not in message


def test_open_given_an_existing_sqlite_file_says_it_is_a_database(tmp_path: Path) -> None:
    db = tmp_path / "data.bin"
    with agentstore.open(StorePolicy("sqlite", sections={"sqlite": {"path": str(db)}})) as store:
        store.log("s", "w").append(b"x")
    with pytest.raises(InvalidPolicy, match="not a database file"):
        agentstore.open(db)
    with pytest.raises(InvalidPolicy, match="not a database file"):
        StorePolicy.load(db)


def test_open_given_a_url_shows_the_policy_and_never_the_password() -> None:
    with pytest.raises(InvalidPolicy) as info:
        agentstore.open("postgresql://user:hunter2@db.example/app")
    message = str(info.value)
    assert "takes a policy file or a StorePolicy" in message
    assert (
        '`store.backend = "postgres"` and '
        '`store.postgres.url = { env = "AGENTSTORE_POSTGRES_URL" }`'
    ) in message
    assert "hunter2" not in message
    assert "user" not in message
    # the policy it shows is one that works
    policy = StorePolicy.loads(
        'store.backend = "postgres"\nstore.postgres.url = { env = "AGENTSTORE_POSTGRES_URL" }\n'
    )
    assert policy.backend == "postgres"
    with pytest.raises(InvalidPolicy, match=r"sqlite\]` and `path = \"a\.db\"`"):
        agentstore.open("sqlite:///a.db")


def test_a_url_folded_by_path_is_still_a_url_and_never_echoed() -> None:
    with pytest.raises(InvalidPolicy) as info:
        agentstore.open(Path("postgresql://user:hunter2@db.example/app"))
    assert "not a database URL" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("table", ['{ dev = "x" }', '{ sslmode = "require" }', "{ env2 = 1 }"])
def test_other_one_key_tables_are_not_taken_for_env_references(table: str) -> None:
    policy = StorePolicy.loads(f'[store]\nbackend = "memory"\n[store.kv]\nparams = {table}\n')
    assert policy.sections["kv"]["params"] == tomllib.loads(f"t = {table}")["t"]
