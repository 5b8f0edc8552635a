"""Policies built in code: ``StorePolicy.from_dict`` takes the TOML's shape, secrets from an
application's settings as pydantic ``SecretStr`` values, and never shows or dumps them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import agentstore
import pytest
from agentstore import InvalidPolicy, StorePolicy
from core_drivers import Recorder, private_registry, recording_spec
from pydantic import BaseModel, ConfigDict, SecretStr

TOKEN = "tok-9f8e7d6c5b4a-from-app-settings"
URL = f"db://app:{TOKEN}@db.example:5/x"

TOML = """
[store]
backend = "sqlite"

[store.sqlite]
path = "app.db"
synchronous = "NORMAL"

[store.capabilities]
rate_limits = "memory"
"""

STORE_TABLE: dict[str, Any] = {
    "backend": "sqlite",
    "sqlite": {"path": "app.db", "synchronous": "NORMAL"},
    "capabilities": {"rate_limits": "memory"},
}


class TokenConfig(BaseModel):
    """A driver section with a SecretStr field and a plain str field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = "db://"
    token: SecretStr | None = None


def token_registry(recorder: Recorder) -> agentstore.Registry:
    return private_registry(recording_spec("db", recorder, config_model=TokenConfig))


def secret_policy() -> StorePolicy:
    return StorePolicy.from_dict(
        {"backend": "db", "db": {"url": SecretStr(URL), "token": SecretStr(TOKEN)}}
    )


def test_the_store_table_and_the_whole_document_are_the_toml() -> None:
    from_toml = StorePolicy.loads(TOML)
    assert StorePolicy.from_dict(STORE_TABLE) == from_toml
    assert StorePolicy.from_dict({"store": STORE_TABLE}) == from_toml
    assert StorePolicy.from_dict({"store": STORE_TABLE}).table == "store"
    assert StorePolicy.from_dict(STORE_TABLE).dumps() == from_toml.dumps()


def test_aa_storage_form_and_the_empty_mapping() -> None:
    storage = {"storage": {"policy_store": "memory", "audit_sink": "sqlite"}}
    from_toml = StorePolicy.loads('[storage]\npolicy_store = "memory"\naudit_sink = "sqlite"\n')
    assert StorePolicy.from_dict(storage) == from_toml
    assert StorePolicy.from_dict(storage).table == "storage"
    empty = StorePolicy.from_dict({})
    assert empty.table is None
    assert empty == StorePolicy.default()


@pytest.mark.parametrize("doc", [None, "[store]", ["store"], 3])
def test_not_a_mapping_is_refused(doc: object) -> None:
    with pytest.raises(InvalidPolicy, match="a policy is a mapping like the TOML"):
        StorePolicy.from_dict(doc)  # type: ignore[arg-type]


def test_misshapen_values_name_their_toml_path() -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.from_dict({"backend": "sqlite", "capabilities": {"ratelimits": "memory"}})
    assert info.value.path == "store.capabilities.ratelimits"
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.from_dict({"backend": "sqlite", "sqlite": {"path": {"env": 1}}})
    assert info.value.path == "store.sqlite.path"


def test_a_plain_password_is_refused_and_the_message_names_secretstr() -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.from_dict({"backend": "db", "db": {"password": TOKEN}})
    assert info.value.path == "store.db.password"
    assert "SecretStr" in str(info.value)
    assert TOKEN not in str(info.value)
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.from_dict({"backend": "db", "db": {"url": URL}})
    assert TOKEN not in str(info.value)


def test_a_secretstr_reaches_the_driver_and_opens_a_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    policy = secret_policy()
    caplog.set_level(logging.DEBUG)
    with agentstore.open(policy, registry=token_registry(recorder)) as store:
        store.log("s", writer="w").append(b"x")
        texts = [repr(store), str(store)]
    (config,) = recorder.configs
    assert config.url == URL  # a str field gets the value
    assert config.token.get_secret_value() == TOKEN  # a SecretStr field stays one
    texts += [repr(config.token), caplog.text, *(r.getMessage() for r in caplog.records)]
    assert all(TOKEN not in t for t in texts)


def test_repr_str_to_dict_hash_and_sections_never_show_the_secret() -> None:
    policy = secret_policy()
    shown = [repr(policy), str(policy), repr(policy.to_dict()), repr(policy.sections)]
    assert all(TOKEN not in text for text in shown)
    hash(policy)  # hashable, through the masked form
    assert policy == secret_policy()
    other = StorePolicy.from_dict({"backend": "db", "db": {"url": SecretStr(URL)}})
    assert policy != other


def test_dumps_refuses_a_secretstr_it_has_no_name_for() -> None:
    with pytest.raises(InvalidPolicy) as info:
        secret_policy().dumps()
    assert info.value.path == "store.db.url"
    assert "SecretStr" in str(info.value)
    assert 'env={"store.db.url": "NAME"}' in str(info.value)
    assert TOKEN not in str(info.value)


def test_dumps_writes_env_references_it_is_told(monkeypatch: pytest.MonkeyPatch) -> None:
    text = secret_policy().dumps(env={"store.db.url": "APP_DB_URL", "store.db.token": "APP_TOK"})
    assert TOKEN not in text
    assert 'url = { env = "APP_DB_URL" }' in text
    assert 'token = { env = "APP_TOK" }' in text
    monkeypatch.setenv("APP_DB_URL", URL)
    monkeypatch.setenv("APP_TOK", TOKEN)
    reread = StorePolicy.loads(text)
    recorder = Recorder()
    with agentstore.open(reread, registry=token_registry(recorder)):
        pass
    assert recorder.configs[0].url == URL
    assert recorder.configs[0].token.get_secret_value() == TOKEN


def test_dumps_env_naming_no_secret_is_refused() -> None:
    with pytest.raises(InvalidPolicy, match="holds no SecretStr") as info:
        secret_policy().dumps(
            env={"store.db.url": "A", "store.db.token": "B", "store.db.typo": "C"}
        )
    assert info.value.path == "store.db.typo"


def test_dumps_refuses_a_value_toml_cannot_hold(tmp_path: Path) -> None:
    policy = StorePolicy.from_dict({"backend": "sqlite", "sqlite": {"path": tmp_path}})
    with pytest.raises(InvalidPolicy, match="cannot be written as TOML") as info:
        policy.dumps()
    assert info.value.path == "store.sqlite.path"
    assert str(tmp_path) not in str(info.value)


def test_env_references_still_work_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_TOKEN_VAR", TOKEN)
    policy = StorePolicy.from_dict({"backend": "db", "db": {"token": {"env": "APP_TOKEN_VAR"}}})
    assert 'token = { env = "APP_TOKEN_VAR" }' in policy.dumps()
    recorder = Recorder()
    with agentstore.open(policy, registry=token_registry(recorder)):
        pass
    assert recorder.configs[0].token.get_secret_value() == TOKEN
