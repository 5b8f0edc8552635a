"""The contract tests notice real bugs: each broken driver fails the tests aimed at it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agentstore.conformance import AuditSinkContract, WriterLogContract
from mutant_drivers import MUTANTS, PlainLog, TruncatableLog

pytest_plugins = ["pytester"]

SUITE = Path(__file__).with_name("mutant_drivers.py")


def test_every_mutant_fails_its_tests(pytester: pytest.Pytester) -> None:
    expected = {f"TestMutant_{m}::{t}" for m, (*_, tests) in MUTANTS.items() for t in tests}
    node_ids = [f"{SUITE}::{test}" for test in sorted(expected)]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rf", *node_ids)
    failed = set(re.findall(r"^FAILED \S*::(TestMutant_\w+::\w+)", result.stdout.str(), re.M))
    assert failed == expected, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) == 0  # nothing selected got past a bug


def _tamper_tests(contract: type) -> list[str]:
    return sorted(
        n for n in vars(contract) if n.startswith(("test_log_tamper", "test_audit_tamper"))
    )


def _run(pytester: pytest.Pytester, cls: str, tests: list[str]) -> pytest.RunResult:
    node_ids = [f"{SUITE}::{cls}::{t}" for t in tests]
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rfs", *node_ids)


def test_every_tamper_test_is_among_the_mutants_targets() -> None:
    # A tamper test added later must fail for the untestable mutant too, never skip.
    (*_, targets) = MUTANTS["untestable_tampering"]
    assert sorted(targets) == _tamper_tests(WriterLogContract)
    assert not hasattr(PlainLog, "tamper") and hasattr(TruncatableLog, "tamper")


def test_no_tamper_hook_fails_saying_what_to_supply(pytester: pytest.Pytester) -> None:
    (*_, targets) = MUTANTS["untestable_tampering"]
    result = _run(pytester, "TestMutant_untestable_tampering", targets)
    outcomes = result.parseoutcomes()
    assert outcomes == {"failed": len(targets)}, result.stdout.str()
    out = result.stdout.str()
    assert "driver 'untestable_tampering' keeps its data and declares tamper-evident logs" in out
    assert "it offers no tamper hook" in out
    assert "Give its ConformanceSupport a tamper hook" in out
    assert "declare DriverSpec(tamper_evident=False)" in out


def test_declared_not_tamper_evident_skips_only_the_truncation_tests(
    pytester: pytest.Pytester,
) -> None:
    tests = _tamper_tests(WriterLogContract)
    truncation = [t for t in tests if "deleted_last" in t or "deleted_every" in t]
    assert len(truncation) == 3
    result = _run(pytester, "TestDeclared_declared_truncatable", tests)
    assert result.parseoutcomes() == {
        "passed": len(tests) - len(truncation),
        "skipped": len(truncation),
    }, result.stdout.str()
    assert result.stdout.str().count("(DriverSpec tamper_evident=False)") == 1  # one -rs line
    result = _run(
        pytester, "TestDeclared_declared_truncatable_audit", _tamper_tests(AuditSinkContract)
    )
    assert result.parseoutcomes() == {"passed": 2, "skipped": 1}, result.stdout.str()


def test_declared_without_a_hook_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    tests = _tamper_tests(WriterLogContract)
    result = _run(pytester, "TestDeclared_declared_untestable", tests)
    assert result.parseoutcomes() == {"skipped": len(tests)}, result.stdout.str()
    assert "driver 'declared_untestable': it offers no tamper hook" in result.stdout.str()
