"""The CLI's side of configuration: aa-storage files, the built-in default said in words,
unused sections, ``--json`` for results and errors alike, ``python -m agentstore``, and
starter policies whose every commented setting can be uncommented."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import agentstore
import pytest
from agentstore import Registry, StorePolicy
from agentstore.driver import DriverSpec
from agentstore.registry import NoConfig
from click.testing import Result

Run = Callable[..., Result]
ErrorLine = Callable[[Result], str]

AA_STORAGE = """\
[storage]
policy_store       = "memory"
audit_sink         = "memory"
session_store      = "memory"
credential_store   = "memory"
rate_limit_counter = "memory"
lifecycle_store    = "memory"

# The in-memory driver needs no connection settings.
[storage.memory]
"""


def _unreachable(config: NoConfig, ctx: object) -> object:
    from agentstore import BackendUnavailable

    raise BackendUnavailable("cannot reach 127.0.0.1:1 within 2 s")


# -- validate -------------------------------------------------------------------------------


def test_an_aa_storage_file_is_read_and_its_equivalent_printed(run: Run, workdir: Path) -> None:
    (workdir / "agent-assembly.toml").write_text(AA_STORAGE)
    result = run("validate", "agent-assembly.toml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "ok: agent-assembly.toml (read as aa-storage's format)"
    assert lines[1].startswith("  memory (in-process): generations, logs, policies")
    assert lines[2] == "the equivalent [store] policy:"
    printed = "\n".join(lines[3:]) + "\n"
    assert StorePolicy.loads(printed) == StorePolicy("memory", sections={"memory": {}})
    assert StorePolicy.loads(printed).table == "store"


def test_a_file_with_neither_table_says_the_default_applies(
    run: Run, installed: Registry, workdir: Path
) -> None:
    (workdir / "app.toml").write_text("[tool.app]\nname = 'x'\n")
    result = run("validate", "app.toml", reg=installed)
    assert result.exit_code == 0, result.output
    assert (
        f"no [store] table: the built-in default applies: sqlite at {workdir / 'agentstore.db'}"
        in result.stdout.splitlines()
    )
    assert not (workdir / "agentstore.db").exists()


def test_a_section_of_a_driver_not_installed_is_a_warning(run: Run, workdir: Path) -> None:
    (workdir / "p.toml").write_text(
        '[store]\nbackend = "memory"\n[store.postgres]\nurl = { env = "NOT_SET_HERE" }\n'
    )
    result = run("validate", "p.toml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: p.toml")
    assert result.stderr.splitlines() == [
        "warning: [store.postgres] is unused: driver 'postgres' is not installed "
        "(`pip install agentstore-postgres` provides it)"
    ]


def test_an_inline_password_in_an_unused_section_fails_validate(
    run: Run, installed: Registry, workdir: Path, error_line: ErrorLine
) -> None:
    (workdir / "p.toml").write_text(
        '[store]\nbackend = "memory"\n[store.postgres]\nurl = "postgresql://u:hunter2@h/db"\n'
    )
    result = run("validate", "p.toml", reg=installed)
    assert result.exit_code == 2
    assert error_line(result).startswith("p.toml: store.postgres.url: ")
    assert "hunter2" not in result.output + result.stderr


def test_validate_json(run: Run, registry: Registry, workdir: Path) -> None:
    registry.register(DriverSpec("partial", open=_unreachable, capabilities=frozenset({"logs"})))
    (workdir / "p.toml").write_text(
        '[store]\nbackend = "memory"\n[store.capabilities]\nlogs = "partial"\n'
        "[store.postgres]\nx = 1\n"
    )
    result = run("validate", "--json", "p.toml")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["source"] == "p.toml"
    assert doc["format"] == "store"
    assert doc["routes"]["logs"] == "partial"
    assert doc["routes"]["audit"] == "memory"
    assert doc["drivers"]["partial"]["capabilities"] == ["logs"]
    assert doc["sections"] == {
        "postgres": {"driver": "postgres", "installed": False, "in_use": False}
    }
    assert len(doc["warnings"]) == 1
    assert "[store.postgres] is unused" in doc["warnings"][0]
    assert doc["notice"] is None
    assert StorePolicy.loads(doc["policy"]) == StorePolicy.load(workdir / "p.toml")

    (workdir / "aa.toml").write_text(AA_STORAGE)
    assert json.loads(run("validate", "--json", "aa.toml").stdout)["format"] == "aa-storage"


def test_validate_json_errors_are_json(run: Run, workdir: Path) -> None:
    (workdir / "p.toml").write_text('[store]\nbackend = "postgres"\n')
    result = run("validate", "--json", "p.toml")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert "pip install agentstore-postgres" in doc["error"]


# -- verify --json errors -------------------------------------------------------------------


def test_verify_json_errors_are_json_with_the_same_exit_code(
    run: Run, registry: Registry, workdir: Path
) -> None:
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "postgres"\n')
    plain = run("verify")
    result = run("verify", "--json")
    assert result.exit_code == plain.exit_code == 2
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": plain.stderr.strip().removeprefix("Error: "),
    }

    registry.register(DriverSpec("down", open=_unreachable))
    (workdir / "agentstore.toml").write_text('[store]\nbackend = "down"\n')
    down = run("verify", "--json")
    assert down.exit_code == 1
    assert json.loads(down.stdout) == {"ok": False, "error": "cannot reach 127.0.0.1:1 within 2 s"}


# -- policy files that are not policies -----------------------------------------------------


def test_config_naming_a_database_says_what_to_write(
    run: Run, workdir: Path, error_line: ErrorLine
) -> None:
    result = run("--config", "app.db", "validate")
    assert result.exit_code == 2
    line = error_line(result)
    assert "a policy file is expected here, not a database file" in line
    assert '`[store.sqlite]` and `path = "app.db"`' in line


# -- python -m agentstore -------------------------------------------------------------------


def test_python_dash_m_agentstore_runs_the_cli(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[store]\nbackend = "memory"\n')
    env = {k: v for k, v in os.environ.items() if k != "AGENTSTORE_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "agentstore", "validate", "p.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: p.toml")
    version = subprocess.run(
        [sys.executable, "-m", "agentstore", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert version.returncode == 0
    assert version.stdout.startswith("agentstore, version ")


# -- init: every commented setting can be uncommented ---------------------------------------

_SETTING = re.compile(r"^# (\[[^\]]+\]|[A-Za-z_][\w.-]* = .*)$")


def _uncomment_settings(text: str) -> str:
    """The starter with every commented setting and table uncommented (prose stays)."""
    return "\n".join(
        m.group(1) if (m := _SETTING.match(line)) else line for line in text.splitlines()
    )


def _backends() -> list[str]:
    return sorted(Registry().drivers)


@pytest.mark.parametrize("backend", _backends())
def test_every_commented_setting_of_every_starter_validates_when_uncommented(
    run: Run,
    installed: Registry,
    workdir: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTSTORE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    written = run("init", "--backend", backend, "starter.toml", reg=installed)
    assert written.exit_code == 0, written.output
    text = (workdir / "starter.toml").read_text()
    uncommented = _uncomment_settings(text)
    assert uncommented != text or backend == "memory"
    (workdir / "starter.toml").write_text(uncommented)
    policy = StorePolicy.load(workdir / "starter.toml")
    # no uncommented table escaped [store], and every key reads back under it
    assert set(tomllib.loads(uncommented)) == {"store"}
    result = run("validate", "starter.toml", reg=installed)
    assert result.exit_code == 0, f"{backend}: {result.stderr}\n{uncommented}"
    assert policy.backend == backend


def test_the_postgres_starter_writes_the_documented_key_names(
    run: Run, installed: Registry, workdir: Path
) -> None:
    assert run("init", "--backend", "postgres", reg=installed).exit_code == 0
    text = (workdir / "agentstore.toml").read_text()
    assert '# schema = "agentstore"' in text
    assert "schema_name" not in text
    assert "# params = {}" in text
    assert "\n# [params]" not in text


def test_config_naming_a_database_url_never_echoes_its_password(
    run: Run, workdir: Path, error_line: ErrorLine
) -> None:
    result = run("--config", "postgresql://user:hunter2@db.example/app", "verify")
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith("a policy file is expected here, not a database URL")
    assert '`store.postgres.url = { env = "AGENTSTORE_POSTGRES_URL" }`' in line
    assert "hunter2" not in result.output + result.stderr
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize(
    "value",
    ["postgresql://user:hunter2@db.example/app", "host=db.example password=hunter2 dbname=app"],
)
def test_agentstore_config_naming_a_database_url_never_echoes_its_password(
    run: Run, workdir: Path, error_line: ErrorLine, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AGENTSTORE_CONFIG", value)
    for args in (("verify",), ("validate",), ("list", "credentials", "--json")):
        result = run(*args)
        assert result.exit_code == 2
        assert "$AGENTSTORE_CONFIG" in result.output + result.stderr
        assert "hunter2" not in result.output + result.stderr
    with pytest.raises(agentstore.ConfigError) as info:
        agentstore.open()
    assert "hunter2" not in str(info.value)
    assert list(workdir.iterdir()) == []


def test_validate_shows_the_deprecated_postgres_key_as_a_warning(
    run: Run, installed: Registry, workdir: Path
) -> None:
    (workdir / "app.toml").write_text(
        '[store]\nbackend = "postgres"\n[store.postgres]\nschema_name = "old"\n'
    )
    result = run("validate", "app.toml", reg=installed)
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: the postgres key 'schema_name' is deprecated: write 'schema' instead "
        "('schema_name' is still read as 'schema' for now)"
    ) in result.stderr.splitlines()
    as_json = json.loads(run("validate", "--json", "app.toml", reg=installed).stdout)
    assert any("'schema_name' is deprecated" in w for w in as_json["warnings"])
    (workdir / "app.toml").write_text('[store]\nbackend = "postgres"\n[store.postgres]\n')
    assert "deprecated" not in run("validate", "app.toml", reg=installed).stderr
