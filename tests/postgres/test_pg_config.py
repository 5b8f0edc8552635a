"""The ``[store.postgres]`` model, env references, and discovery without psycopg.

These need no server.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from agentstore import InvalidPolicy, MissingEnvironmentVariable, StorePolicy, default_registry
from agentstore_postgres.config import PostgresConfig, redact_url, url_has_password, url_target

SECRET = "s3cr3t-Pa55"


def resolve(section: dict[str, object]) -> PostgresConfig:
    policy = StorePolicy("postgres", sections={"postgres": section})
    config = policy.resolve().drivers["postgres"][1]
    assert isinstance(config, PostgresConfig)
    return config


def test_defaults_are_what_an_operator_expects() -> None:
    config = PostgresConfig()
    assert config.schema_name == "agentstore"
    assert config.pool_min_size == 1
    assert config.pool_max_size == 10
    assert config.connect_timeout == 5.0
    assert config.notify is False
    assert config.target == "localhost:5432"


def test_section_is_optional_and_unknown_keys_are_refused() -> None:
    assert resolve({}).schema_name == "agentstore"
    with pytest.raises(InvalidPolicy, match=r"store\.postgres\.pool_size"):
        resolve({"pool_size": 3})


def test_url_parts_and_overrides() -> None:
    config = resolve({"url": "postgresql://app@db.example:6543/prod", "schema": "agents"})
    assert config.target == "db.example:6543/prod"
    assert config.host_port == "db.example:6543"
    config = resolve({"url": "postgresql://app@db.example/prod", "port": 7000})
    assert config.host_port == "db.example:7000"
    config = resolve({"host": "10.0.0.5", "dbname": "x", "user": "u"})
    assert config.target == "10.0.0.5:5432/x"
    config = resolve({"url": "host=h1 port=5999 dbname=d user=u"})
    assert config.target == "h1:5999/d"


def test_multi_host_and_ipv6_urls_are_named_in_full() -> None:
    assert url_target("postgresql://u@h1:5433,h2:5434/db") == ("h1,h2", "5433,5434", "db")
    assert url_target("postgresql://[::1]:5999/db") == ("::1", "5999", "db")
    assert url_target("postgresql:///db?host=/run/pg") == ("/run/pg", "5432", "db")


def test_bad_values_are_refused_with_their_path() -> None:
    with pytest.raises(InvalidPolicy, match=r"store\.postgres\.schema.*lowercase identifier"):
        resolve({"schema": "Robert'); DROP TABLE x;--"})
    with pytest.raises(InvalidPolicy, match=r"reserved"):
        resolve({"schema": "pg_catalog"})
    with pytest.raises(InvalidPolicy, match=r"pool_min_size \(5\) exceeds pool_max_size \(2\)"):
        resolve({"pool_min_size": 5, "pool_max_size": 2})
    with pytest.raises(InvalidPolicy, match=r"store\.postgres\.connect_timeout"):
        resolve({"connect_timeout": 0})
    with pytest.raises(InvalidPolicy, match=r"mysql:// url"):
        resolve({"url": "mysql://u@h/db"})
    with pytest.raises(InvalidPolicy, match=r"params.*password"):
        resolve({"params": {"password": "x"}})


@pytest.mark.parametrize(
    ("key", "instead"),
    [
        ("host", "use the key host"),
        ("connect_timeout", "use the key connect_timeout"),
        ("passfile", 'password = { env = "NAME" }'),  # no key of that name: say what is
        ("hostaddr", "use the key host"),
    ],
)
def test_a_reserved_param_names_the_key_to_use_instead(key: str, instead: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        resolve({"params": {key: "x"}})
    assert f"store.postgres.params: {key} may not be set in params" in str(info.value)
    assert instead in str(info.value)


def test_inline_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for section in (
        {"url": f"postgresql://app:{SECRET}@db/prod"},
        {"url": f"postgresql://app@db/prod?password={SECRET}"},
        {"url": f"host=db user=app password={SECRET}"},
        {"password": SECRET},
    ):
        with pytest.raises(InvalidPolicy) as info:
            resolve(section)
        assert "env" in str(info.value)
        assert SECRET not in str(info.value)
        assert SECRET not in repr(info.value)


def test_password_by_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGURL", f"postgresql://app:{SECRET}@db:5433/prod")
    monkeypatch.setenv("PGPASS", SECRET)
    config = resolve({"url": {"env": "PGURL"}})
    assert config.url is not None and SECRET in config.url.get_secret_value()
    assert config.target == "db:5433/prod"
    config = resolve({"host": "db", "password": {"env": "PGPASS"}})
    assert config.password is not None and config.password.get_secret_value() == SECRET
    with pytest.raises(MissingEnvironmentVariable, match=r"store\.postgres\.url.*NOT_SET_ANYWHERE"):
        resolve({"url": {"env": "NOT_SET_ANYWHERE"}})


def test_a_password_never_shows_in_repr_str_or_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGURL", f"postgresql://app:{SECRET}@db:5433/prod")
    monkeypatch.setenv("PGPASS", SECRET)
    section = {"url": {"env": "PGURL"}, "password": {"env": "PGPASS"}}
    policy = StorePolicy("postgres", sections={"postgres": section})
    config = policy.resolve().drivers["postgres"][1]
    shown = [
        repr(config),
        str(config),
        repr(policy),
        str(policy),
        policy.dumps(),
        json.dumps(config.model_dump(mode="json")),
        repr(config.model_dump()),
    ]
    for text in shown:
        assert SECRET not in text
    assert "postgresql://app:***@db:5433/prod" in repr(config)


def test_invalid_value_beside_a_secret_does_not_echo_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGURL", f"mysql://app:{SECRET}@db/prod")
    with pytest.raises(InvalidPolicy) as info:
        resolve({"url": {"env": "PGURL"}})
    assert SECRET not in str(info.value)


def test_redaction_helpers() -> None:
    assert redact_url(f"postgresql://a:{SECRET}@h/d?sslmode=require") == (
        "postgresql://a:***@h/d?sslmode=require"
    )
    assert redact_url(f"host=h password={SECRET} dbname=d") == "host=h password=*** dbname=d"
    assert url_has_password(f"postgresql://a:{SECRET}@h/d")
    assert not url_has_password("postgresql://a@h/d")


def test_discovery_imports_no_database_client() -> None:
    # A fresh interpreter: list the drivers, resolve a postgres policy, check sys.modules.
    code = """
import sys, agentstore
reg = agentstore.default_registry()
assert "postgres" in reg.drivers, sorted(reg.drivers)
spec = reg.get("postgres")
assert spec.distribution == "agentstore-postgres", spec.distribution
agentstore.StorePolicy("postgres", sections={"postgres": {"url": "postgresql://u@h/d"}}).resolve()
clients = ("psycopg", "psycopg_pool", "psycopg_binary")
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in clients)))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


def test_the_driver_is_registered_by_entry_point() -> None:
    spec = default_registry().get("postgres")
    assert spec.config_model is PostgresConfig
    assert spec.distribution == "agentstore-postgres"


def test_the_old_key_schema_name_still_works_with_a_deprecation_warning_naming_schema() -> None:
    deprecated = r"'schema_name' is deprecated: write 'schema'"
    with pytest.warns(DeprecationWarning, match=deprecated) as w:
        config = resolve({"schema_name": "agents_old"})
    assert config.schema_name == "agents_old"
    assert len([x for x in w if issubclass(x.category, DeprecationWarning)]) == 1  # once per load
    with pytest.warns(DeprecationWarning, match="write 'schema'"):
        assert PostgresConfig(schema_name="in_code").schema_name == "in_code"
    # still checked as a schema name
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidPolicy, match="lowercase"):
        resolve({"schema_name": "Bad-Name"})


def test_the_current_key_schema_gives_no_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve({"schema": "agents_new"}).schema_name == "agents_new"
        config = PostgresConfig(schema="x", url="postgresql://u@h/db")
        # the dump a caller round-trips (by alias) reads back without the warning
        assert PostgresConfig.model_validate(config.model_dump(by_alias=True)) == config
