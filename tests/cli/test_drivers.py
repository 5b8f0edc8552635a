"""``agentstore drivers``: what is installed, for people and for scripts."""

from __future__ import annotations

import importlib.metadata
import json
import sys
import types
from collections.abc import Callable

import pytest
from agentstore import Registry, _discovery
from agentstore.driver import DriverSpec, hookimpl
from agentstore.registry import NoConfig
from click.testing import Result

Run = Callable[..., Result]


def _never(config: NoConfig, ctx: object) -> object:
    raise AssertionError("never opened here")


def test_table_lists_each_driver_with_distribution_version_and_capabilities(
    run: Run, installed: Registry
) -> None:
    installed.register(
        DriverSpec("partial", open=_never, capabilities=frozenset({"logs", "generations"}))
    )
    result = run("drivers", reg=installed)
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "DISTRIBUTION",
        "VERSION",
        "CROSS-PROCESS",
        "TAMPER-EVIDENT",
        "CAPABILITIES",
    ]
    memory = next(line for line in lines if line.startswith("memory "))
    version = importlib.metadata.version("agentstore-memory")
    assert memory.split() == ["memory", "agentstore-memory", version, "no", "yes", "all"]
    partial = next(line for line in lines if line.startswith("partial "))
    # canonical capability order; an in-process driver says so; undeclared: the defaults
    assert partial.split() == ["partial", "(in-process)", "-", "no", "yes", "generations,", "logs"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(names)


def test_json_is_complete_and_parseable(run: Run, installed: Registry) -> None:
    installed.register(DriverSpec("partial", open=_never, capabilities=frozenset({"audit"})))
    result = run("drivers", "--json", reg=installed)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    by_name = {d["name"]: d for d in doc["drivers"]}
    assert {"memory", "partial"} <= set(by_name)
    assert by_name["memory"]["distribution"] == "agentstore-memory"
    assert by_name["memory"]["version"] == importlib.metadata.version("agentstore-memory")
    assert by_name["memory"]["first_party"] is True
    assert len(by_name["memory"]["capabilities"]) == 8
    assert by_name["partial"] == {
        "name": "partial",
        "distribution": None,
        "version": None,
        "capabilities": ["audit"],
        "cross_process": False,
        "tamper_evident": True,
        "description": "",
        "first_party": False,
    }
    assert doc["broken"] == []


def test_what_a_driver_declares_is_shown(run: Run, installed: Registry) -> None:
    installed.register(DriverSpec("shared", open=_never, cross_process=True, tamper_evident=False))
    lines = run("drivers", reg=installed).stdout.splitlines()
    shared = next(line for line in lines if line.startswith("shared "))
    assert shared.split() == ["shared", "(in-process)", "-", "yes", "no", "all"]
    doc = json.loads(run("drivers", "--json", reg=installed).stdout)
    by_name = {d["name"]: d for d in doc["drivers"]}
    assert (by_name["shared"]["cross_process"], by_name["shared"]["tamper_evident"]) == (
        True,
        False,
    )
    # The first-party drivers that share storage between processes say so.
    for name in ("sqlite", "postgres"):
        if name in by_name:
            assert by_name[name]["cross_process"] is True
            assert by_name[name]["tamper_evident"] is True
    assert by_name["memory"]["cross_process"] is False


def test_nothing_installed_says_what_to_install(run: Run) -> None:
    result = run("drivers", reg=Registry(load_entry_points=False))
    assert result.exit_code == 0
    assert "no drivers installed" in result.stdout
    assert "pip install agentstore-sqlite" in result.stdout


@pytest.fixture
def broken_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A registry whose entry points include one that cannot be imported."""
    real = _discovery.entry_points
    bad = _discovery.FoundEntryPoint("ghost", "agentstore_ghost_driver_does_not_exist", None, None)

    def entry_points(group: str) -> list[_discovery.FoundEntryPoint]:
        return [*real(group), bad]

    monkeypatch.setattr(_discovery, "entry_points", entry_points)
    return Registry()


def test_broken_plugin_is_listed_not_fatal(run: Run, broken_registry: Registry) -> None:
    table = run("drivers", reg=broken_registry)
    assert table.exit_code == 0, table.stdout
    assert "installed but failed to load:" in table.stdout
    assert "ghost (unknown distribution): ModuleNotFoundError" in table.stdout
    assert "\nmemory " in table.stdout  # the healthy drivers are still listed

    doc = json.loads(run("drivers", "--json", reg=broken_registry).stdout)
    assert [b["name"] for b in doc["broken"]] == ["ghost"]
    assert "agentstore_ghost_driver_does_not_exist" in doc["broken"][0]["error"]
    assert "memory" in {d["name"] for d in doc["drivers"]}


@pytest.fixture
def clashing_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Installed entry points plus a second plugin, from another distribution, that also
    registers a driver named ``memory``."""
    impostor = types.ModuleType("agentstore_impostor_plugin")

    @hookimpl
    def register_drivers(register: Callable[[DriverSpec], None]) -> None:
        register(DriverSpec("memory", open=_never))

    impostor.register_drivers = register_drivers  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, impostor.__name__, impostor)
    real = _discovery.entry_points
    extra = _discovery.FoundEntryPoint("memory", impostor.__name__, None, None)

    def entry_points(group: str) -> list[_discovery.FoundEntryPoint]:
        return [*real(group), extra]

    monkeypatch.setattr(_discovery, "entry_points", entry_points)
    return Registry()


def test_two_drivers_with_one_name_fail_naming_both(
    run: Run, clashing_registry: Registry, error_line: Callable[[Result], str]
) -> None:
    result = run("drivers", reg=clashing_registry)
    assert result.exit_code == 2
    line = error_line(result)
    assert "'memory' is registered twice" in line
    assert "agentstore-memory" in line
    assert "uninstall one of them" in line
