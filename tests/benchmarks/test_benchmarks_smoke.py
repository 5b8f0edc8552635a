"""The benchmark harness runs end to end on a tiny scenario. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--scale", "0.01", "--reps", "1", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_json_reports_every_row_with_samples_or_a_reason() -> None:
    proc = run_bench("--only", "sqlite-append,ratelimit-memory", "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    keys = [s["key"] for s in doc["scenarios"]]
    assert keys == ["sqlite-append", "ratelimit-memory"]
    for scenario in doc["scenarios"]:
        rows = scenario["rows"]
        floors = [r for r in rows if r["role"] == "floor"]
        assert floors
        assert all(f["status"] == "ok" and len(f["seconds"]) == 1 for f in floors)
        best = next(r for r in rows if r["name"] == scenario["best_floor"])
        assert best["role"] == "floor"
        assert best["ratio_to_floor"] == 1.0
        assert all(f["ratio_to_floor"] >= 1.0 for f in floors)
        for row in rows:
            assert row["durability"]
            if row["status"] == "ok":
                assert row["ops_per_second_median"] > 0
                assert row["ops_per_sample"][0] > 0
            else:
                assert row["reason"], row  # a missing driver or peer says why
    names = {r["name"] for s in doc["scenarios"] for r in s["rows"]}
    expected = {"agentstore sqlite", "agentstore memory", "raw sqlite3 lock-then-insert (floor)"}
    assert expected <= names
    assert any(t["target"].startswith("memory rate-limit") for t in doc["targets"])


def test_table_and_unreachable_postgres_is_a_note_not_a_crash() -> None:
    proc = run_bench(
        "--only",
        "ratelimit-memory,postgres-append",
        env={"AGENTSTORE_BENCH_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/test"},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| contender" in out
    assert "dict + lock (floor)" in out
    assert "skipped: PostgreSQL at 127.0.0.1:1/test is unreachable" in out
    assert "Targets (issue 6, section 3)" in out


def test_unknown_scenario_is_a_usage_error() -> None:
    proc = run_bench("--only", "no-such-scenario")
    assert proc.returncode == 2
    assert "unknown scenario no-such-scenario" in proc.stdout


def test_asyncio_rows_report_loop_lag_and_their_targets() -> None:
    proc = run_bench("--only", "aio-sqlite-lag,aio-verify", "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    rows = {r["name"]: r for s in doc["scenarios"] for r in s["rows"]}
    for name in ("agentstore.aio sqlite", "agentstore.aio sqlite await verify()"):
        assert rows[name]["status"] == "ok", rows[name]
        assert rows[name]["extra"]["loop lag p99 ms"] >= 0
    targets = {t["target"]: t for t in doc["targets"]}
    lag = "asyncio: event-loop lag p99 <= 2 ms during 8 tasks appending on sqlite"
    assert targets[lag]["met"] is not None
    verify = "asyncio await verify() rate within 1.1x of the synchronous verify"
    assert targets[verify]["met"] is not None


def test_issue_15_rows_run_and_report_their_targets() -> None:
    keys = (
        "sqlite-append-positions,sqlite-feed,sqlite-feed-catchup,sqlite-growth,"
        "sqlite-watch-idle,sqlite-watch-latency,postgres-append-positions,postgres-feed"
    )
    proc = run_bench("--only", keys, "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    assert sorted(s["key"] for s in doc["scenarios"]) == sorted(keys.split(","))
    for scenario in doc["scenarios"]:
        for row in scenario["rows"]:
            assert row["status"] == "ok", (scenario["key"], row)
    targets = {t["target"]: t for t in doc["targets"]}
    for name in (
        "sqlite: a single append with positions within 1.10x of the time without",
        "postgres: a single append with positions within 1.10x of the time without",
        "sqlite: reading the feed within 1.2x of a raw ordered scan's time",
        "postgres: reading the feed within 1.2x of a raw ordered scan's time",
        "sqlite: catching up on 1M positions in bounded memory (peak RSS < 100 MB)",
        "sqlite: appends to a log holding 1M entries >= 0.9x the rate on an empty one",
        "sqlite watch = true: idle CPU < 1% of a CPU",
        "sqlite watch = true: another process's commit rings within 50 ms (p99)",
    ):
        assert targets[name]["met"] is not None, targets[name]
