"""``agentstore validate``: exit 0 when the policy resolves, else one line naming the TOML
path of the problem and the fix, exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from agentstore import Registry
from agentstore.driver import DriverSpec
from agentstore.registry import NoConfig
from click.testing import Result

Run = Callable[..., Result]
ErrorLine = Callable[[Result], str]


def _never(config: NoConfig, ctx: object) -> object:
    raise AssertionError("never opened here")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_ok_names_the_file_and_each_driver_route(
    run: Run, registry: Registry, workdir: Path
) -> None:
    registry.register(DriverSpec("partial", open=_never, capabilities=frozenset({"logs"})))
    _write(
        workdir / "p.toml",
        '[store]\nbackend = "memory"\n[store.capabilities]\nlogs = "partial"\n',
    )
    result = run("validate", "p.toml")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "ok: p.toml"
    assert lines[1].startswith("  memory (in-process): generations, policies, audit")
    assert "  partial (in-process): logs" in lines


def test_first_party_driver_not_installed_names_the_pip_install(
    run: Run, workdir: Path, error_line: ErrorLine
) -> None:
    _write(workdir / "agentstore.toml", '[store]\nbackend = "postgres"\n')
    result = run("validate")
    assert result.exit_code == 2
    assert error_line(result) == (
        "agentstore.toml: store.backend: driver 'postgres' is not installed; it is provided "
        "by agentstore-postgres: run `pip install agentstore-postgres` "
        "(installed drivers: memory)"
    )


def test_capability_override_to_a_driver_lacking_it(
    run: Run, registry: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    registry.register(DriverSpec("partial", open=_never, capabilities=frozenset({"logs"})))
    _write(
        workdir / "agentstore.toml",
        '[store]\nbackend = "memory"\n[store.capabilities]\naudit = "partial"\n',
    )
    result = run("validate")
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith("agentstore.toml: store.capabilities.audit: driver 'partial'")
    assert "route audit to another driver under [store.capabilities]" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[store]\nbakend = "memory"\n',
            "p.toml: store.bakend: unknown key 'bakend' in [store]",
        ),
        ("[store\n", "p.toml: not valid TOML: "),
        ('[store]\nbackend = "memory"\n[store.capabilities]\nlog = "memory"\n', "unknown capab"),
        ('[store]\nbackend = "memory"\n[store.memroy]\n', "p.toml: store.memroy: [store.memroy]"),
    ],
)
def test_malformed_policies(
    run: Run, workdir: Path, error_line: ErrorLine, text: str, expected: str
) -> None:
    _write(workdir / "p.toml", text)
    result = run("validate", "p.toml")
    assert result.exit_code == 2
    assert expected in error_line(result)


def test_unset_environment_reference_names_variable_and_path(
    run: Run,
    registry: Registry,
    workdir: Path,
    error_line: ErrorLine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import BaseModel

    class Needs(BaseModel):
        url: str

    registry.register(DriverSpec("remote", open=_never, config_model=Needs))
    monkeypatch.delenv("AGENTSTORE_TEST_UNSET_URL", raising=False)
    _write(
        workdir / "agentstore.toml",
        '[store]\nbackend = "remote"\n'
        '[store.remote]\nurl = { env = "AGENTSTORE_TEST_UNSET_URL" }\n',
    )
    result = run("validate")
    assert result.exit_code == 2
    assert error_line(result) == (
        "agentstore.toml: store.remote.url: environment variable AGENTSTORE_TEST_UNSET_URL is "
        "not set; set it in the environment of the process that opens the store"
    )
    assert "inline" not in error_line(result)
    monkeypatch.setenv("AGENTSTORE_TEST_UNSET_URL", "redis://user:hunter2@127.0.0.1:6379")
    ok = run("validate")
    assert ok.exit_code == 0, ok.stdout
    assert "hunter2" not in ok.stdout


def test_a_secret_in_a_bad_value_is_never_echoed(
    run: Run, workdir: Path, error_line: ErrorLine
) -> None:
    _write(
        workdir / "p.toml", '[store]\nbackend = "memory"\n[store.memory]\npassword = "hunter2"\n'
    )
    result = run("validate", "p.toml")
    assert result.exit_code == 2
    assert "store.memory.password" in error_line(result)
    assert "hunter2" not in result.stdout + result.stderr


def test_missing_file(run: Run, error_line: ErrorLine) -> None:
    result = run("validate", "nowhere.toml")
    assert result.exit_code == 2
    assert error_line(result) == "policy file nowhere.toml does not exist"


def test_policy_is_found_as_open_finds_it(
    run: Run, workdir: Path, error_line: ErrorLine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing found: the default policy (sqlite, not installed in this registry)
    default = run("validate")
    assert default.exit_code == 2
    assert error_line(default).startswith("the default policy (no ./agentstore.toml")
    assert "pip install agentstore-sqlite" in default.stderr

    # ./agentstore.toml
    _write(workdir / "agentstore.toml", '[store]\nbackend = "memory"\n')
    assert run("validate").stdout.startswith("ok: agentstore.toml")

    # $AGENTSTORE_CONFIG wins over ./agentstore.toml
    env_file = _write(workdir / "env.toml", '[store]\nbackend = "memory"\n')
    monkeypatch.setenv("AGENTSTORE_CONFIG", str(env_file))
    assert run("validate").stdout.startswith(f"ok: {env_file}")

    # --config wins over the environment, and PATH over --config
    _write(workdir / "opt.toml", '[store]\nbackend = "memory"\n')
    assert run("--config", "opt.toml", "validate").stdout.startswith("ok: opt.toml")
    _write(workdir / "arg.toml", '[store]\nbackend = "memory"\n')
    assert run("--config", "opt.toml", "validate", "arg.toml").stdout.startswith("ok: arg.toml")

    monkeypatch.setenv("AGENTSTORE_CONFIG", str(workdir / "gone.toml"))
    gone = run("validate")
    assert gone.exit_code == 2
    assert "$AGENTSTORE_CONFIG names" in error_line(gone)
