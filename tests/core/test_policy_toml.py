"""StorePolicy: loading, validation messages, env references, routing, secrets, dumping."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import agentstore
import agentstore.driver
import pytest
import tomli_w
from agentstore import (
    InvalidPolicy,
    MissingCapability,
    MissingDriverSection,
    MissingEnvironmentVariable,
    StorePolicy,
    UnknownDriver,
)
from agentstore.registry import DriverSpec
from core_drivers import Recorder, UrlConfig, private_registry, recording_spec

FULL = """\
[store]
backend = "sqlite"

[store.sqlite]
path = "agentstore.db"

[store.postgres]
url = { env = "AGENTSTORE_POSTGRES_URL" }
pool = { min = 1, max = 4 }

[store.capabilities]
rate_limits = "memory"
"""


# -- loading and round trips ----------------------------------------------------------------


def test_loads_reads_every_part() -> None:
    policy = StorePolicy.loads(FULL)
    assert policy.backend == "sqlite"
    assert policy.capabilities == {"rate_limits": "memory"}
    assert policy.sections == {
        "sqlite": {"path": "agentstore.db"},
        "postgres": {"url": {"env": "AGENTSTORE_POSTGRES_URL"}, "pool": {"min": 1, "max": 4}},
    }
    assert policy.driver_for("rate_limits") == "memory"
    assert policy.driver_for("logs") == "sqlite"
    assert policy.routes["rate_limits"] == "memory"
    assert set(policy.routes) == set(agentstore.CAPABILITIES)


def test_dumps_round_trips() -> None:
    policy = StorePolicy.loads(FULL)
    text = policy.dumps()
    again = StorePolicy.loads(text)
    assert again == policy
    assert again.dumps() == text
    assert hash(again) == hash(policy)


def test_dumps_keeps_env_references_inline() -> None:
    policy = StorePolicy(
        "sqlite",
        sections={"db": {"url": {"env": 'ODD"NAME'}, "hosts": [{"env": "H1"}, "literal"]}},
    )
    text = policy.dumps()
    assert 'url = { env = "ODD\\"NAME" }' in text
    assert "[store.db.url]" not in text
    assert '{ env = "H1" }' in text
    assert StorePolicy.loads(text) == policy


def test_constructed_policy_round_trips() -> None:
    policy = StorePolicy(
        "memory", capabilities={"audit": "sqlite"}, sections={"sqlite": {"path": "a b.db"}}
    )
    assert StorePolicy.loads(policy.dumps()) == policy


def test_load_reads_a_file_and_remembers_it(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(FULL, encoding="utf-8")
    policy = StorePolicy.load(path)
    assert policy == StorePolicy.loads(FULL)
    assert policy.source == str(path)


def test_load_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match=re.escape(str(tmp_path / "nope.toml"))):
        StorePolicy.load(tmp_path / "nope.toml")


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "[tool.other]\nx = 1\n"])
def test_empty_or_storeless_document_is_the_default(text: str) -> None:
    assert StorePolicy.loads(text) == StorePolicy.default()
    assert StorePolicy.default().backend == "sqlite"
    assert StorePolicy.default().sections == {}
    (_spec, config) = StorePolicy.default().resolve().drivers["sqlite"]
    assert config.path == "agentstore.db"  # type: ignore[attr-defined]


def test_empty_file_is_the_default(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    assert StorePolicy.load(tmp_path / "empty.toml") == StorePolicy.default()


def test_embeddable_in_a_bigger_document() -> None:
    text = (
        '[tool.myapp]\nname = "x"\nworkers = 3\n\n'
        '[store]\nbackend = "memory"\n\n[store.capabilities]\naudit = "sqlite"\n\n'
        "[logging]\nlevel = 'info'\n"
    )
    policy = StorePolicy.loads(text)
    assert policy.backend == "memory"
    assert policy.capabilities == {"audit": "sqlite"}
    assert StorePolicy.from_mapping({"other": 1, "store": {"backend": "memory"}}).backend == (
        "memory"
    )


def test_store_without_backend_uses_the_default_backend() -> None:
    assert StorePolicy.loads("[store]\n").backend == "sqlite"


# -- what bad input says --------------------------------------------------------------------


def test_malformed_toml_gives_line_and_column() -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads('[store]\nbackend = "memory"\npath = = 3\n', source="p.toml")
    message = str(info.value)
    assert "line 3" in message
    assert "column" in message
    assert message.startswith("p.toml: ")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('[store]\nbackend = "memory"\nbackedn = "x"\n', "store.backedn"),
        ('[store]\nbackend = "memory"\ntimeout = 3\n', "store.timeout"),
        ('[store]\nbackend = "memory"\n[store.capabilities]\nratelimits = "memory"\n', None),
    ],
)
def test_unknown_keys_are_rejected_naming_the_path(text: str, path: str | None) -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(text)
    if path is not None:
        assert info.value.path == path
        assert str(info.value).startswith(f"{path}: ")
    else:
        assert info.value.path == "store.capabilities.ratelimits"
        assert "rate_limits" in str(info.value)  # lists the known names


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("store = 3\n", "store"),
        ("[store]\nbackend = 3\n", "store.backend"),
        ('[store]\nbackend = ""\n', "store.backend"),
        ("[store]\ncapabilities = 1\n", "store.capabilities"),
        ("[store.capabilities]\naudit = 1\n", "store.capabilities.audit"),
        ('[store.pg]\nurl = { env = "A", default = "b" }\n', "store.pg.url"),
        ("[store.pg]\nurl = { env = 3 }\n", "store.pg.url"),
    ],
)
def test_misshapen_values_name_the_path(text: str, path: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        StorePolicy.loads(text)
    assert info.value.path == path


def test_driver_section_is_validated_by_the_drivers_model() -> None:
    registry = private_registry(recording_spec("db", Recorder(), config_model=UrlConfig))
    policy = StorePolicy.loads('[store]\nbackend = "db"\n[store.db]\nurll = "x"\n')
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(registry)
    assert info.value.path == "store.db.urll"
    policy = StorePolicy.loads('[store]\nbackend = "db"\n[store.db]\nport = "many"\n')
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(registry)
    assert info.value.path == "store.db.port"


def test_section_with_a_typo_in_the_driver_name() -> None:
    policy = StorePolicy.loads('[store]\nbackend = "memory"\n[store.memroy]\nx = 1\n')
    with pytest.raises(UnknownDriver) as info:
        policy.resolve(private_registry())
    assert info.value.path == "store.memroy"
    assert "did you mean 'memory'" in str(info.value)


# -- resolution against the installed drivers ----------------------------------------------


def test_unknown_driver_lists_installed_drivers() -> None:
    registry = private_registry(recording_spec("db", Recorder()))
    with pytest.raises(UnknownDriver) as info:
        StorePolicy("fancydb").resolve(registry)
    message = str(info.value)
    assert info.value.path == "store.backend"
    assert "'fancydb'" in message
    assert "installed drivers: db, memory" in message


@pytest.mark.parametrize(
    ("name", "dist"), [("sqlite", "agentstore-sqlite"), ("postgres", "agentstore-postgres")]
)
def test_unknown_first_party_driver_gives_the_pip_command(name: str, dist: str) -> None:
    with pytest.raises(UnknownDriver) as info:
        StorePolicy("memory", capabilities={"audit": name}).resolve(private_registry())
    assert f"pip install {dist}" in str(info.value)
    assert info.value.path == "store.capabilities.audit"
    assert "installed drivers: memory" in str(info.value)


def test_unknown_driver_suggests_a_close_name() -> None:
    with pytest.raises(UnknownDriver, match="did you mean 'memory'"):
        StorePolicy("memroy").resolve(private_registry())


def test_capability_the_driver_lacks() -> None:
    registry = private_registry(recording_spec("gen", Recorder(), capabilities={"generations"}))
    with pytest.raises(MissingCapability) as info:
        StorePolicy("gen").resolve(registry)
    assert info.value.path == "store.backend"
    assert "'gen'" in str(info.value)
    assert "[store.capabilities]" in str(info.value)
    with pytest.raises(MissingCapability) as info:
        StorePolicy("memory", capabilities={"audit": "gen"}).resolve(registry)
    assert info.value.path == "store.capabilities.audit"
    assert "generations" in str(info.value)  # what it does provide


def test_per_capability_overrides_route_to_another_driver() -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("gen", rec, capabilities={"generations"}))
    others = {c: "memory" for c in agentstore.CAPABILITIES if c != "generations"}
    policy = StorePolicy("gen", capabilities=others)
    with agentstore.open(policy, registry=registry) as store:
        assert store.routes == {"generations": "gen", **others}
        assert rec.contexts[0].capabilities == {"generations"}
        store.generation("g").bump()
        store.log("s", writer="w").append(b"x")


def test_driver_needing_settings_without_a_section() -> None:
    class Needs(UrlConfig):
        url: str  # no default: the section is required

    registry = private_registry(recording_spec("db", Recorder(), config_model=Needs))
    with pytest.raises(MissingDriverSection, match=r"\[store\.db\]"):
        StorePolicy("db").resolve(registry)


def test_relative_paths_resolve_beside_the_policy_file(tmp_path: Path) -> None:
    rec = Recorder()
    (tmp_path / "p.toml").write_text('[store]\nbackend = "a"\n')
    registry = private_registry(recording_spec("a", rec))
    assert StorePolicy.load(tmp_path / "p.toml").resolve(registry).base_dir == tmp_path.resolve()
    assert StorePolicy("a").resolve(registry).base_dir == Path.cwd()


# -- env references and secrets -------------------------------------------------------------

ENV_POLICY = '[store]\nbackend = "db"\n[store.db]\nurl = { env = "AGENTSTORE_TEST_URL" }\n'


def test_env_reference_is_resolved_when_the_store_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("db", rec, config_model=UrlConfig))
    monkeypatch.delenv("AGENTSTORE_TEST_URL", raising=False)
    policy = StorePolicy.loads(ENV_POLICY)  # loading does not need the variable
    monkeypatch.setenv("AGENTSTORE_TEST_URL", "db://first")
    with agentstore.open(policy, registry=registry):
        pass
    monkeypatch.setenv("AGENTSTORE_TEST_URL", "db://second")
    with agentstore.open(policy, registry=registry):
        pass
    assert [c.url for c in rec.configs] == ["db://first", "db://second"]


def test_missing_env_variable_names_variable_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = private_registry(recording_spec("db", Recorder(), config_model=UrlConfig))
    monkeypatch.delenv("AGENTSTORE_TEST_URL", raising=False)
    with pytest.raises(MissingEnvironmentVariable) as info:
        agentstore.open(StorePolicy.loads(ENV_POLICY), registry=registry)
    assert info.value.path == "store.db.url"
    assert "AGENTSTORE_TEST_URL" in str(info.value)


def test_env_secret_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "postgres://app:hunter2-s3cr3t@db:5432/x"
    monkeypatch.setenv("AGENTSTORE_TEST_URL", secret)
    rec = Recorder()
    registry = private_registry(recording_spec("db", rec, config_model=UrlConfig))
    policy = StorePolicy.loads(ENV_POLICY)
    with agentstore.open(policy, registry=registry) as store:
        assert rec.configs[0].url == secret
        shown = [repr(policy), str(policy), policy.dumps(), repr(store), str(store)]
        shown += [repr(store.policy), store.policy.dumps(), tomli_w.dumps(policy.to_dict())]
    for text in shown:
        assert "hunter2" not in text
    # The dump keeps the reference, never the value.
    assert StorePolicy.loads(policy.dumps()).sections["db"] == {
        "url": {"env": "AGENTSTORE_TEST_URL"}
    }


def test_invalid_env_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSTORE_TEST_PORT", "hunter2-s3cr3t")
    registry = private_registry(recording_spec("db", Recorder(), config_model=UrlConfig))
    policy = StorePolicy.loads(
        '[store]\nbackend = "db"\n[store.db]\nport = { env = "AGENTSTORE_TEST_PORT" }\n'
    )
    with pytest.raises(InvalidPolicy) as info:
        policy.resolve(registry)
    assert info.value.path == "store.db.port"
    assert "hunter2" not in str(info.value)
    # pydantic's own error (which quotes the input) is neither the cause nor printed.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert "hunter2" not in "".join(traceback.format_exception(info.value))


def test_repr_shows_backend_overrides_and_section_names_only() -> None:
    policy = StorePolicy.loads(FULL)
    assert repr(policy) == (
        "StorePolicy(backend='sqlite', capabilities={'rate_limits': 'memory'}, "
        "sections=['postgres', 'sqlite'])"
    )
    assert str(policy) == repr(policy)
    assert "agentstore.db" not in repr(policy)


def test_policies_compare_by_content() -> None:
    assert StorePolicy.loads(FULL) == StorePolicy.loads(FULL)
    assert StorePolicy("memory") != StorePolicy("sqlite")
    assert StorePolicy("memory") != "memory"


def test_spec_for_unknown_capability_is_refused() -> None:
    with pytest.raises(agentstore.ConfigError, match="unknown capabilities"):
        DriverSpec(
            name="x", open=lambda c, ctx: agentstore.driver.DriverStores(), capabilities={"logz"}
        )  # type: ignore[arg-type]
