"""A file written for aa-storage (a ``[storage]`` table) is read as the equivalent policy;
a file with neither ``[store]`` nor ``[storage]`` is the built-in default, and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import agentstore
import pytest
from agentstore import InvalidPolicy, MissingCapability, StorePolicy
from core_drivers import Recorder, UrlConfig, private_registry, recording_spec

# aa-storage's own example (agent-assembly.toml), with drivers this test registers.
AA_STORAGE = """\
[storage]
policy_store       = "kv"
audit_sink         = "db"
session_store      = "kv"
credential_store   = "db"
rate_limit_counter = "kv"
lifecycle_store    = "db"

[storage.kv]
url = "kv://localhost:6379"

[storage.db]
url = "db://localhost:5432/assembly"
port = 5432
"""


def _registry() -> agentstore.Registry:
    return private_registry(
        recording_spec("kv", Recorder(), config_model=UrlConfig),
        recording_spec("db", Recorder(), config_model=UrlConfig),
    )


def test_each_kind_is_routed_to_its_driver_and_each_section_configures_it() -> None:
    policy = StorePolicy.loads(AA_STORAGE)
    assert policy.table == "storage"
    assert policy.routes == {
        "generations": "db",  # no aa-storage key: the audit sink's driver, the one chain
        "logs": "db",
        "policies": "kv",
        "audit": "db",
        "sessions": "kv",
        "credentials": "db",
        "rate_limits": "kv",
        "lifecycle": "db",
    }
    resolved = policy.resolve(_registry())
    assert resolved.drivers["kv"][1] == UrlConfig(url="kv://localhost:6379")
    assert resolved.drivers["db"][1] == UrlConfig(url="db://localhost:5432/assembly", port=5432)


def test_it_equals_the_store_policy_it_prints() -> None:
    policy = StorePolicy.loads(AA_STORAGE)
    equivalent = StorePolicy.loads(policy.dumps())
    assert equivalent.table == "store"
    assert equivalent == policy
    assert "[store]" in policy.dumps()
    assert "[storage" not in policy.dumps()
    assert equivalent.routes == policy.routes


@pytest.mark.parametrize(
    "keys",
    [
        # the kind names, and agentstore's capability names
        ("policy", "audit", "session", "credential", "rate_limit", "lifecycle"),
        ("policies", "audit", "sessions", "credentials", "rate_limits", "lifecycle"),
    ],
)
def test_kind_and_capability_names_are_accepted(keys: tuple[str, ...]) -> None:
    text = "[storage]\n" + "".join(f'{k} = "memory"\n' for k in keys)
    policy = StorePolicy.loads(text)
    assert policy == StorePolicy("memory")  # every kind on memory: memory is the backend
    assert set(policy.routes.values()) == {"memory"}


def test_logs_and_generations_may_be_named_and_name_the_backend() -> None:
    policy = StorePolicy.loads('[storage]\nlogs = "db"\naudit = "kv"\ngenerations = "kv"\n')
    assert policy.backend == "db"
    assert policy.capabilities == {"audit": "kv", "generations": "kv"}


def test_unnamed_kinds_without_an_audit_driver_use_the_default_backend() -> None:
    policy = StorePolicy.loads('[storage]\npolicy_store = "memory"\n')
    assert policy.backend == "sqlite"
    assert policy.capabilities == {"policies": "memory"}


def test_opening_it_routes_for_real(tmp_path: Path) -> None:
    path = tmp_path / "agent-assembly.toml"
    path.write_text('[storage]\npolicy = "memory"\naudit = "memory"\n[storage.memory]\n')
    with agentstore.open(path, registry=private_registry()) as store:
        assert set(store.routes.values()) == {"memory"}
        store.log("s", "w").append(b"x")


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (
            '[storage]\npolicy_stor = "memory"\n',
            "storage.policy_stor",
            "did you mean 'policy_store'",
        ),
        ('[storage]\npolicy = "memory"\npolicy_store = "kv"\n', "storage.policy_store", "keep one"),
        ("[storage]\naudit_sink = 3\n", "storage.audit_sink", "driver"),
        ('[storage.audit]\nx = "memory"\n', "storage.audit", 'audit = "DRIVER"'),
        ("storage = 3\n", "storage", "table"),
        (
            '[storage]\naudit = "memory"\n[storage.memory]\npath = { evn = "X" }\n',
            "storage.memory.path",
            "env",
        ),
    ],
)
def test_misshapen_tables_name_the_path_as_written(text: str, path: str, words: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(text)
    assert info.value.path == path
    assert words in str(info.value)


def test_resolution_errors_name_the_storage_keys() -> None:
    registry = private_registry(recording_spec("kv", Recorder(), config_model=UrlConfig))
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads('[storage]\naudit = "kv"\n[storage.kv]\nurll = "x"\n').resolve(registry)
    assert info.value.path == "storage.kv.urll"
    assert "[storage.kv]" in str(info.value)
    assert "did you mean 'url'" in str(info.value)
    partial = private_registry(
        recording_spec("p", Recorder(), capabilities={"generations", "logs", "audit"})
    )
    text = '[storage]\naudit = "p"\npolicy = "memory"\nsession_store = "p"\n'
    with pytest.raises(MissingCapability) as missing:
        StorePolicy.loads(text).resolve(partial)
    assert missing.value.path == "storage.session_store"
    assert "[storage]" in str(missing.value)


def test_both_tables_are_refused_naming_both() -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads('[store]\nbackend = "memory"\n[storage]\naudit_sink = "memory"\n')
    assert "[store]" in str(info.value)
    assert "[storage]" in str(info.value)


def test_an_applications_own_storage_table_is_left_alone() -> None:
    text = '[store]\nbackend = "memory"\n[storage]\nbucket = "s3://x"\n'
    assert StorePolicy.loads(text) == StorePolicy("memory")
    alone = StorePolicy.loads('[storage]\nbucket = "s3://x"\n[storage.cache]\nsize = 3\n')
    assert alone.table is None
    assert alone == StorePolicy.default()


def test_an_inline_password_in_a_storage_section_is_refused() -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads('[storage]\naudit = "db"\n[storage.db]\nurl = "db://u:hunter2@h/x"\n')
    assert info.value.path == "storage.db.url"
    assert "hunter2" not in str(info.value)
    assert 'url = { env = "NAME" }' in str(info.value)


# -- neither table: the built-in default, said in words -------------------------------------


def test_a_file_with_neither_table_says_the_default_applies(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text("[tool.app]\nx = 1\n")
    policy = StorePolicy.load(path)
    assert policy.table is None
    assert policy == StorePolicy.default()
    notice = policy.resolve().notice
    assert notice == (
        f"no [store] table: the built-in default applies: sqlite at "
        f"{tmp_path.resolve() / 'agentstore.db'}"
    )
    assert StorePolicy.loads('[store]\nbackend = "sqlite"\n').resolve().notice is None


def test_open_logs_the_default_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "app.toml"
    path.write_text("[tool.app]\nx = 1\n")
    with caplog.at_level(logging.INFO, logger="agentstore"), agentstore.open(path):
        pass
    lines = [r.getMessage() for r in caplog.records if r.name == "agentstore"]
    assert lines == [
        f"{path}: no [store] table: the built-in default applies: sqlite at "
        f"{tmp_path.resolve() / 'agentstore.db'}",
        f"opened store from policy file {path}: driver sqlite",
        "closed store (driver sqlite)",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "agentstore")
    caplog.clear()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTSTORE_CONFIG", raising=False)
    with caplog.at_level(logging.INFO, logger="agentstore"), agentstore.open():
        pass
    db = tmp_path.resolve() / "agentstore.db"
    assert [r.getMessage() for r in caplog.records if r.name == "agentstore"] == [
        f"no policy file: the built-in default applies: sqlite at {db}",
        "opened store from the built-in default policy: driver sqlite",
        "closed store (driver sqlite)",
    ]
    # the library configures no logging of its own
    assert logging.getLogger("agentstore").handlers == []
