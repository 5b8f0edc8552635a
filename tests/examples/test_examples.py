"""Every example script runs as a user would run it, and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, folder: Path) -> list[str]:
    """Run ``examples/NAME`` with FOLDER as its argument; return its stdout lines."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def test_conversation_log(tmp_path: Path) -> None:
    out = run_example("conversation_log.py", tmp_path)
    rung = [line.split()[1:4] for line in out if line.startswith("rung:")]
    assert rung == [
        ["conv:standup", "alice", "#1"],
        ["conv:standup", "bob", "#1"],
        ["conv:standup", "alice", "#2"],
        ["conv:standup", "bob", "#2"],
    ]
    assert out[0].endswith("'Morning. I shipped the chain verifier.'")
    assert out[-2:] == [
        "verified: conv:standup alice, 2 entries, chain intact",
        "verified: conv:standup bob, 2 entries, chain intact",
    ]
    assert (tmp_path / "conversation.db").is_file()


def test_report_clock(tmp_path: Path) -> None:
    assert run_example("report_clock.py", tmp_path) == [
        "run 1: report #1",
        "run 2: report #2",
        "a peer published report #10; catching up: now 10",
        "refused: generation 'report' is at 10; refusing to move it back to 3",
        "run 3: report #11",
        "reports in order: [1, 2, 11]; chain of 3 entries intact",
    ]


def test_governance_stores(tmp_path: Path) -> None:
    out = run_example("governance_stores.py", tmp_path)
    routes = dict(line.removeprefix("route: ").split(" -> ") for line in out[:8])
    assert routes == {
        "generations": "sqlite",
        "logs": "sqlite",
        "policies": "sqlite",
        "audit": "sqlite",
        "sessions": "sqlite",
        "credentials": "sqlite",
        "rate_limits": "memory",
        "lifecycle": "sqlite",
    }
    assert out[8:] == [
        "policy: planner may use ['search', 'calc']",
        "policy: invalidated, the next read must fetch a fresh one",
        "audit: ['policy.update', 'policy.invalidate']; chain of 2 entries intact",
        "session: resumed at step 3",
        "credential: search-api-key holds 18 bytes (never printed)",
        "rate limit: calls in this minute [1, 2, 3]",
        "rate limit: a minute later 0",
        "lifecycle: live within 30 s: ['planner']",
    ]
    assert "sk-live" not in "\n".join(out)
    assert (tmp_path / "governance.db").is_file()


def test_examples_run_without_arguments_in_a_temporary_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "conversation_log.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_adopt_sqlite_connection(tmp_path: Path) -> None:
    out = run_example("adopt_sqlite_connection.py", tmp_path)
    assert out[:3] == [
        "ticket 1 created; event #1 chained",
        "ticket 2 created; event #2 chained",
        "events verified: 2 entries",
    ]
    assert out[3] == "application tables: ['tickets']"
    assert int(out[4].rsplit(": ", 1)[1]) >= 2  # the store's own tables, in the same file
    assert out[5] == "tickets: 2"
    # one file holds both: the chained events are readable beside the tickets
    import sqlite3

    conn = sqlite3.connect(tmp_path / "app.db")
    try:
        rows = conn.execute(
            "SELECT seq FROM agentstore_log WHERE stream = 'tickets' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    assert rows == [(1,), (2,)]


def test_async_agents(tmp_path: Path) -> None:
    out = run_example("async_agents.py", tmp_path)
    events = [line.split()[1:3] for line in out if line.startswith("event:")]
    agents = ["planner", "researcher", "coder", "reviewer"]
    # the agents took turns, and the consumer saw every commit in that order
    assert events == [[name, f"#{r}"] for r in (1, 2, 3) for name in agents]
    refused = [line for line in out if "refused by the rate limiter" in line]
    assert len(refused) == 4  # each agent's third tool call in the minute
    assert sorted(line for line in out if line.startswith("session saved:")) == sorted(
        f"session saved: {name} after 3 turns" for name in agents
    )
    assert [line for line in out if line.startswith("verified:")] == [
        f"verified: conv:release {name}, 3 entries, chain intact" for name in agents
    ]
    assert out[-1] == "live agents: 4"
    assert (tmp_path / "agents.db").is_file()


def test_feed_consumer(tmp_path: Path) -> None:
    out = run_example("feed_consumer.py", tmp_path)
    assert out[:3] == [
        "first consumer handled [1, 2]",
        "all handled once: True",
        "retry refused: the head is already 3",
    ]
    assert out[3:9] == [
        "1 user: my order 1182 never arrived",
        "2 agent: sorry! can you confirm your address?",
        "3 user: [redacted]",
        "4 agent: thanks, a new parcel ships today",
        "5 user: great, thank you",
        "6 agent: anything else?",
    ]
    assert out[-1] == "user chain: 3 entries intact, 1 redacted"
