"""The multi-process contract tests run only for a driver that declares cross_process."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentstore import Registry, StorePolicy, default_registry
from agentstore.conformance import ContractBase
from shared_memory_driver import SHARED, drop

pytest_plugins = ["pytester"]

UNDECLARED = dataclasses.replace(SHARED, name="undeclared", distribution="some-dist")
IN_PROCESS = dataclasses.replace(SHARED, name="in_process", cross_process=True)
REGISTRY = Registry(load_entry_points=False)
REGISTRY.register(UNDECLARED)
REGISTRY.register(IN_PROCESS)


class _Children(ContractBase):
    registry = REGISTRY
    driver = ""

    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> Iterator[StorePolicy]:
        key = str(tmp_path)
        yield StorePolicy(self.driver, sections={self.driver: {"key": key}})
        drop(key)

    def skip_reason(self) -> str:
        with pytest.raises(pytest.skip.Exception) as info:
            self.child_appends("s", "w", 2, 1)
        return str(info.value)


class TestUndeclared(_Children):
    driver = "undeclared"

    def test_skips_naming_the_declaration(self) -> None:
        assert not self.spec.cross_process
        assert self.skip_reason() == (
            "driver 'undeclared' does not declare that separate processes may share its "
            "storage (DriverSpec cross_process=True)"
        )


class TestDeclaredInProcess(_Children):
    driver = "in_process"

    def test_skips_because_no_other_process_can_open_it(self) -> None:
        assert self.spec.cross_process
        assert "registered in-process cannot be opened by another process" in self.skip_reason()


def test_declared_driver_runs_the_process_tests(pytester: pytest.Pytester) -> None:
    # sqlite declares cross_process: its multi-process tests (the log's, one per face, the
    # feed's and expect_head's) run and pass.
    if "sqlite" not in default_registry().drivers:
        pytest.skip("agentstore-sqlite is not installed here")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--agentstore-driver", "sqlite", "-k", "processes", "-v"
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_log_appends_from_processes_are_contiguous PASSED*"])
    result.stdout.fnmatch_lines(["*test_feed_no_late_gaps_across_processes PASSED*"])
    result.stdout.fnmatch_lines(["*test_expect_head_race_across_processes PASSED*"])
