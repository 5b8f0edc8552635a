"""``agentstore init``: a commented starter policy that reads back, never clobbering."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from agentstore import Registry, StorePolicy
from agentstore.driver import DriverSpec
from agentstore.registry import NoConfig
from click.testing import Result
from pydantic import BaseModel, ConfigDict, Field

Run = Callable[..., Result]


def _never(config: NoConfig, ctx: object) -> object:
    raise AssertionError("never opened here")


def test_default_is_a_commented_sqlite_policy(run: Run, workdir: Path) -> None:
    result = run("init")
    assert result.exit_code == 0, result.stdout
    assert "wrote agentstore.toml (backend sqlite)" in result.stdout
    text = (workdir / "agentstore.toml").read_text()
    assert text.startswith("# agentstore policy")
    assert sum(line.startswith("#") for line in text.splitlines()) >= 8
    assert StorePolicy.loads(text) == StorePolicy(
        "sqlite", sections={"sqlite": {"path": "agentstore.db"}}
    )
    # the same store as the default policy's: the sqlite driver's own defaults
    written = StorePolicy.loads(text).resolve().drivers["sqlite"][1]
    assert written == StorePolicy.default().resolve().drivers["sqlite"][1]


def test_refuses_to_overwrite_without_force(
    run: Run, workdir: Path, error_line: Callable[[Result], str]
) -> None:
    target = workdir / "agentstore.toml"
    target.write_text("# mine\n")
    result = run("init", "--backend", "memory")
    assert result.exit_code == 2
    assert error_line(result) == "agentstore.toml already exists; pass --force to overwrite it"
    assert target.read_text() == "# mine\n"

    forced = run("init", "--backend", "memory", "--force")
    assert forced.exit_code == 0, forced.stdout
    assert StorePolicy.load(target) == StorePolicy("memory")


def test_path_argument_and_config_option(run: Run, workdir: Path) -> None:
    assert run("init", "--backend", "memory", "a.toml").exit_code == 0
    assert run("--config", "b.toml", "init", "--backend", "memory").exit_code == 0
    assert StorePolicy.load(workdir / "a.toml").backend == "memory"
    assert StorePolicy.load(workdir / "b.toml").backend == "memory"
    assert not (workdir / "agentstore.toml").exists()


def test_first_party_driver_not_installed_is_written_with_a_note(run: Run, workdir: Path) -> None:
    result = run("init", "--backend", "postgres")
    assert result.exit_code == 0
    assert "pip install agentstore-postgres" in result.stderr
    text = (workdir / "agentstore.toml").read_text()
    # a secret by reference, written as the inline table people write by hand
    assert 'url = { env = "AGENTSTORE_POSTGRES_URL" }' in text
    assert tomllib.loads(text)["store"]["postgres"] == {"url": {"env": "AGENTSTORE_POSTGRES_URL"}}


def test_unknown_backend_is_refused_with_a_suggestion(
    run: Run, workdir: Path, error_line: Callable[[Result], str]
) -> None:
    result = run("init", "--backend", "memroy")
    assert result.exit_code == 2
    line = error_line(result)
    assert "unknown driver 'memroy'" in line
    assert "did you mean 'memory'?" in line
    assert not (workdir / "agentstore.toml").exists()


def test_missing_folder_is_an_error(
    run: Run, workdir: Path, error_line: Callable[[Result], str]
) -> None:
    result = run("init", "--backend", "memory", "no/such/dir/agentstore.toml")
    assert result.exit_code == 2
    assert "folder no/such/dir does not exist" in error_line(result)


class TunedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(description="the server to reach")
    port: int = Field(6379, description="its port")
    tls: bool = False


def test_installed_driver_settings_are_listed_from_its_model(
    run: Run, registry: Registry, workdir: Path, error_line: Callable[[Result], str]
) -> None:
    registry.register(DriverSpec("tuned", open=_never, config_model=TunedConfig))
    result = run("init", "--backend", "tuned")
    assert result.exit_code == 0, result.stdout
    text = (workdir / "agentstore.toml").read_text()
    assert "[store.tuned]" in text
    assert "# host = ...   (required)  # the server to reach" in text
    assert "# port = 6379  # its port" in text
    assert "# tls = false" in text
    # the required setting is left for the user, and validate says which one
    check = run("validate")
    assert check.exit_code == 2
    assert error_line(check) == (
        "agentstore.toml: store.tuned.host: required key missing: add host = ... to [store.tuned]"
    )


def test_a_partial_driver_gets_a_note_and_a_routing_example(
    run: Run, registry: Registry, workdir: Path
) -> None:
    registry.register(
        DriverSpec("partial", open=_never, capabilities=frozenset({"logs", "generations"}))
    )
    result = run("init", "--backend", "partial")
    assert result.exit_code == 0
    assert "does not provide policies, audit, sessions" in result.stderr
    text = (workdir / "agentstore.toml").read_text()
    assert '# audit = "sqlite"' in text
    assert '# lifecycle = "sqlite"' in text
    assert '# logs = "sqlite"' not in text
    # uncommenting the example is all it takes
    fixed = text.replace("# [store.capabilities]", "[store.capabilities]").replace(
        '# policies = "sqlite"', 'policies = "memory"'
    )
    assert StorePolicy.loads(fixed).capabilities == {"policies": "memory"}
