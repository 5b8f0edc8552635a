"""Fixtures for the CLI tests: a fresh registry per test and a store whose state outlives
one ``agentstore`` invocation (the in-process driver ``shared``), so a test can write, then
tamper, then run ``agentstore verify`` on the same data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import agentstore_memory.plugin
import pytest
from agentstore import Registry
from agentstore.cli import cli
from agentstore.cli.app import Options
from agentstore.driver import DriverSpec, DriverStores, LogAuditSink, OpenContext
from agentstore.registry import NoConfig
from agentstore_memory import MemoryGenerationStore, MemoryLogStore, open_memory
from click.testing import CliRunner, Result


@dataclass
class SharedState:
    """The stores of driver ``shared``: every open of it sees this same state."""

    logs: MemoryLogStore = field(default_factory=MemoryLogStore)
    generations: MemoryGenerationStore = field(default_factory=MemoryGenerationStore)


@pytest.fixture
def registry() -> Registry:
    """A registry holding only the memory driver (as if nothing else were installed).

    It is registered in-process, so it shows no distribution; ``installed`` has the
    entry points of this environment.
    """
    reg = Registry(load_entry_points=False)
    reg.register_plugin(agentstore_memory.plugin, name="memory")
    return reg


@pytest.fixture
def installed() -> Registry:
    """A fresh registry of the drivers installed in this environment."""
    return Registry()


@pytest.fixture
def shared(registry: Registry) -> SharedState:
    state = SharedState()

    def _open(config: NoConfig, ctx: OpenContext) -> DriverStores:
        stores = open_memory(ctx)
        caps = ctx.capabilities
        stores.logs = state.logs if "logs" in caps else None
        stores.audit = LogAuditSink(state.logs) if "audit" in caps else None
        stores.generations = state.generations if "generations" in caps else None
        return stores

    registry.register(DriverSpec("shared", open=_open, description="state shared by opens"))
    return state


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder with no policy found through the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTSTORE_CONFIG", raising=False)
    yield tmp_path


Run = Callable[..., Result]


@pytest.fixture
def run(registry: Registry, workdir: Path) -> Run:
    """Invoke ``agentstore ARGS...`` in-process against the test's registry (or another)."""
    runner = CliRunner()

    def invoke(*args: str, reg: Registry | None = None) -> Result:
        return runner.invoke(cli, list(args), obj=Options(registry=reg or registry))

    return invoke


def _one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


@pytest.fixture
def error_line() -> Callable[[Result], str]:
    """The single stderr line of a failed command, asserting there is exactly one."""
    return _one_error_line
