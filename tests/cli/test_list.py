"""``agentstore list``: what the governance stores hold, read-only, names never values."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import agentstore
import pytest
from agentstore import (
    AgentId,
    PolicyDocument,
    Registry,
    SessionId,
    SessionRecord,
)
from click.testing import Result

Run = Callable[..., Result]
ErrorLine = Callable[[Result], str]

SECRET = b"sk-l1st-secret-value"


def _fill(workdir: Path) -> tuple[list[AgentId], list[SessionId]]:
    agents = sorted(AgentId.new() for _ in range(3))
    sessions = sorted(SessionId.new() for _ in range(3))
    with agentstore.open() as store:  # the default policy: ./agentstore.db
        for name in ("zeta", "alpha", "mid dle"):
            store.credentials.put_secret(name, SECRET)
        for agent in agents:
            store.policies.put(agent, PolicyDocument({"a": 1}))
            store.lifecycle.register(agent)
        for n, sid in enumerate(sessions):
            store.sessions.save(SessionRecord(sid, agents[0]), ttl_secs=3600 if n else None)
    return agents, sessions


def test_list_credentials_prints_names_never_values(
    run: Run, workdir: Path, installed: Registry
) -> None:
    _fill(workdir)
    result = run("list", "credentials", reg=installed)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["alpha", "mid dle", "zeta"]
    as_json = run("list", "credentials", "--json", reg=installed)
    assert json.loads(as_json.stdout) == {"ok": True, "credentials": ["alpha", "mid dle", "zeta"]}
    for shown in (result.output, result.stderr, as_json.output, as_json.stderr):
        assert "l1st-secret" not in shown


def test_list_sessions_policies_and_agents(run: Run, workdir: Path, installed: Registry) -> None:
    agents, sessions = _fill(workdir)
    assert run("list", "sessions", reg=installed).stdout.split() == [str(s) for s in sessions]
    assert run("list", "policies", reg=installed).stdout.split() == [str(a) for a in agents]
    lines = run("list", "agents", reg=installed).stdout.splitlines()
    assert [line.split()[0] for line in lines] == [str(a) for a in agents]
    assert all("last seen" in line for line in lines)
    doc = json.loads(run("list", "agents", "--json", reg=installed).stdout)
    assert [a["agent_id"] for a in doc["agents"]] == [str(a) for a in agents]
    resumed = run("list", "sessions", "--after", str(sessions[0]), "--limit", "1", reg=installed)
    assert resumed.stdout.split() == [str(sessions[1])]


def test_list_is_read_only_and_refuses_a_missing_store(
    run: Run, workdir: Path, installed: Registry, error_line: Callable[[Result], str]
) -> None:
    result = run("list", "sessions", reg=installed)
    assert result.exit_code == 2
    assert "no store here" in error_line(result)
    assert list(workdir.iterdir()) == []  # nothing was created


def test_list_refuses_a_bad_after(
    run: Run, workdir: Path, installed: Registry, error_line: ErrorLine
) -> None:
    _fill(workdir)
    result = run("list", "policies", "--after", "not-an-id", reg=installed)
    assert result.exit_code == 2
    assert "not an AgentId" in error_line(result)
    as_json = run("list", "policies", "--after", "not-an-id", "--json", reg=installed)
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["ok"] is False


def test_a_name_with_a_line_break_or_control_character_stays_on_one_line(
    run: Run, workdir: Path, installed: Registry
) -> None:
    # one key per line: a name cannot pass for two names, or hide in a terminal escape
    names = ["plain name", "fake\nagentstore:t:acme:api-key", "esc\x1b[2Kape", "zero\u200bwidth"]
    with agentstore.open() as store:
        for name in names:
            store.credentials.put_secret(name, SECRET)
    result = run("list", "credentials", reg=installed)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(names)
    assert "plain name" in lines  # a printable name is shown as it is
    assert repr("fake\nagentstore:t:acme:api-key") in lines
    assert repr("esc\x1b[2Kape") in lines and "\x1b" not in result.stdout
    assert repr("zero\u200bwidth") in lines
    as_json = run("list", "credentials", "--json", reg=installed)
    assert sorted(json.loads(as_json.stdout)["credentials"]) == sorted(names)


def test_a_printable_name_never_reads_as_another_names_quoted_form(
    run: Run, workdir: Path, installed: Registry
) -> None:
    # The name with a real line break prints as its repr, 'a\nb'; a name spelled with a
    # quote, a backslash and an n once printed exactly so, as it is.
    broken, lookalike = "a\nb", "'a\\nb'"
    assert repr(broken) == lookalike
    with agentstore.open() as store:
        for name in (broken, lookalike, '"q"'):
            store.credentials.put_secret(name, SECRET)
    lines = run("list", "credentials", reg=installed).stdout.splitlines()
    assert len(lines) == len(set(lines)) == 3
    assert sorted(lines) == sorted([repr(broken), repr(lookalike), repr('"q"')])


def test_a_listing_failing_half_way_under_json_is_still_one_json_document(
    run: Run, workdir: Path, installed: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentstore.cli import manage

    _fill(workdir)

    def failing(store: agentstore.Store, after: str | None) -> Iterator[str]:
        yield "first"
        raise agentstore.BackendUnavailable("lost the database half way")

    _, line, value, what = manage.LISTINGS["credentials"]
    monkeypatch.setitem(manage.LISTINGS, "credentials", (failing, line, value, what))
    result = run("list", "credentials", "--json", reg=installed)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # one document, not a listing and an error glued
    assert doc["ok"] is False
    assert doc["error"] == "lost the database half way"
    assert doc["credentials"] == ["first"]  # what was printed before it failed
    plain = run("list", "credentials", reg=installed)
    assert plain.exit_code == 1
    assert plain.stdout == "first\n"
    assert plain.stderr == "Error: lost the database half way\n"


def test_run_listing_still_runs_outside_a_click_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A public name of agentstore.cli.manage: it once required a click context (for the
    half-printed JSON listing's error), raising RuntimeError when called from a script."""
    from agentstore.cli.manage import run_listing

    with agentstore.open(agentstore.StorePolicy("memory")) as store:
        store.credentials.put_secret("b", SECRET)
        store.credentials.put_secret("a", SECRET)
        assert run_listing(store, "credentials", after=None, limit=None, as_json=True) == 2
        assert json.loads(capsys.readouterr().out) == {"credentials": ["a", "b"], "ok": True}
        assert run_listing(store, "credentials", after="a", limit=None, as_json=False) == 1
        assert capsys.readouterr().out == "b\n"
