"""The management contracts notice real bugs, and skip (never fail) for a first-release
driver that implements none of the hooks they test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agentstore import (
    AgentId,
    SessionId,
    SessionRecord,
    Unsupported,
)
from agentstore.conformance import FakeClock
from management_mutants import MUTANTS, OldCredentials, OldLifecycle, OldPolicies, OldSessions

pytest_plugins = ["pytester"]

SUITE = Path(__file__).with_name("management_mutants.py")


def test_every_management_mutant_fails_its_tests(pytester: pytest.Pytester) -> None:
    expected = {f"TestMutant_{m}::{t}" for m, (*_, tests) in MUTANTS.items() for t in tests}
    node_ids = [f"{SUITE}::{test}" for test in sorted(expected)]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rf", *node_ids)
    failed = set(re.findall(r"^FAILED \S*::(TestMutant_\w+::\w+)", result.stdout.str(), re.M))
    assert failed == expected, result.stdout.str()
    assert result.parseoutcomes().get("passed", 0) == 0


def test_a_first_release_driver_has_every_management_test_skipped(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-rs", f"{SUITE}", "-k", "FirstRelease"
    )
    outcomes = result.parseoutcomes()
    out = result.stdout.str()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, out
    # Bad arguments are refused before the driver is reached: those tests pass.
    assert outcomes.get("passed", 0) > 0 and outcomes.get("skipped", 0) >= 10, out
    assert "driver 'first_release': driver management_mutants.OldSessions does not support" in out


def test_a_first_release_driver_keeps_working_and_names_what_it_lacks() -> None:
    clock = FakeClock()
    sessions, creds = OldSessions(), OldCredentials()
    policies, lifecycle = OldPolicies(), OldLifecycle(clock)
    record = SessionRecord(SessionId.new(), AgentId.new(), {"v": 1})
    sessions.save(record)  # the first release's calls all work as they did
    assert sessions.load(record.session_id) == record
    creds.put_secret("k", b"v")
    lifecycle.register(record.agent_id)
    assert lifecycle.live(10) == [record.agent_id]
    calls = {
        "sessions with a time to live": lambda: sessions.save(record, ttl_secs=10),
        "listing sessions": sessions.ids,
        "purging expired sessions": sessions.purge_expired,
        "listing secrets": creds.names,
        "listing policies": policies.agent_ids,
        "listing agents": lifecycle.agents,
        "pruning agents": lambda: lifecycle.prune(10),
    }
    for what, call in calls.items():
        with pytest.raises(Unsupported, match=f"does not support {what}"):
            call()
    assert sessions.load(record.session_id) == record  # the refused TTL changed nothing
