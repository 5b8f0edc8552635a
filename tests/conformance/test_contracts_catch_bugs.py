"""The contract tests notice real bugs: each broken driver fails the tests aimed at it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mutant_drivers import MUTANTS

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
