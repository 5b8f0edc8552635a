"""docs/writing-a-driver.md cannot drift from the conformance suite without a failing test.

Every contract test falls under a duty of ``agentstore.conformance.contracts.duties``,
every duty names tests that exist, and the guide lists every duty by name in bold, as
well as every guarantee a driver declares.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path

from agentstore.conformance import ConformanceSupport
from agentstore.conformance.contracts import CONTRACTS
from agentstore.conformance.contracts.duties import DUTIES
from agentstore.driver import DriverSpec

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-driver.md"

CONTRACT_TESTS = sorted({n for cls in CONTRACTS for n in vars(cls) if n.startswith("test_")})


def _covered(test: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(test, p) for p in patterns)


def test_the_contracts_are_found() -> None:
    assert len(CONTRACT_TESTS) > 100
    assert "test_log_tamper_deleted_last_entry" in CONTRACT_TESTS


def test_every_contract_test_falls_under_a_duty() -> None:
    patterns = tuple(p for ps in DUTIES.values() for p in ps)
    orphans = [t for t in CONTRACT_TESTS if not _covered(t, patterns)]
    assert orphans == [], f"add these tests to a duty in contracts/duties.py: {orphans}"


def test_every_duty_pattern_names_a_test_that_exists() -> None:
    stale = [
        (duty, p)
        for duty, patterns in DUTIES.items()
        for p in patterns
        if not any(fnmatch.fnmatchcase(t, p) for t in CONTRACT_TESTS)
    ]
    assert stale == []


def test_the_guide_lists_every_duty_in_bold() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    missing = [duty for duty in DUTIES if f"**{duty}**" not in text]
    assert missing == [], f"docs/writing-a-driver.md does not list these duties: {missing}"


def test_the_guide_explains_every_declaration() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    declared = ["tamper_evident", "cross_process"]
    declared += [f.name for f in dataclasses.fields(ConformanceSupport)]
    assert {"tamper_evident", "cross_process"} <= {f.name for f in dataclasses.fields(DriverSpec)}
    missing = [name for name in declared if f"`{name}`" not in text]
    assert missing == []
