"""``python -m benchmarks [--quick] [--json] [--only KEY,...]``: every scenario, one run."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import (
    aio,
    coldstart,
    feed,
    growth,
    positions,
    postgres_log,
    pytest_start,
    ratelimit,
    sqlite_log,
    targets,
    tenants,
    verify,
    watch,
)
from benchmarks.common import Settings, cpu_count
from benchmarks.harness import Scenario, ScenarioResult, progress, render, run_scenario

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

BUILDERS: Sequence[Callable[[Settings], list[Scenario]]] = (
    sqlite_log.scenarios,
    postgres_log.scenarios,
    verify.scenarios,
    ratelimit.scenarios,
    coldstart.scenarios,
    pytest_start.scenarios,
    aio.scenarios,
    positions.scenarios,
    feed.scenarios,
    growth.scenarios,
    watch.scenarios,
    tenants.scenarios,
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="agentstore side by side with the raw driver floor and peer libraries.",
    )
    p.add_argument("--quick", action="store_true", help="less work per scenario (under a minute)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout instead of tables")
    p.add_argument("--only", default="", help="comma-separated scenario keys (default: all)")
    p.add_argument("--list", action="store_true", help="list the scenario keys and exit")
    p.add_argument("--reps", type=int, default=0, help="recorded samples per contender")
    p.add_argument(
        "--scale", type=float, default=1.0, help="multiply every operation count (e.g. 0.01)"
    )
    return p


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": cpu_count(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    url = os.environ.get("AGENTSTORE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    reps = args.reps or (3 if args.quick else 7)
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    info = machine()  # the load average before we add ours
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agentstore-bench-") as tmp:
        settings = Settings(
            quick=args.quick, workdir=Path(tmp), postgres_url=url, reps=reps, scale=args.scale
        )
        with settings.cleanups:
            all_scenarios = [s for build in BUILDERS for s in build(settings)]
            if args.list:
                for s in all_scenarios:
                    print(f"{s.key:24} {s.title}")
                return 0
            unknown = only - {s.key for s in all_scenarios}
            if unknown:
                keys = ", ".join(s.key for s in all_scenarios)
                print(f"unknown scenario {', '.join(sorted(unknown))}; known: {keys}")
                return 2
            chosen = [s for s in all_scenarios if not only or s.key in only]
            results: list[ScenarioResult] = [run_scenario(s, reps=reps) for s in chosen]
    elapsed = time.perf_counter() - started
    checks = targets.evaluate(results)
    if args.json:
        doc = {
            "machine": info,
            "quick": args.quick,
            "reps": reps,
            "seconds": elapsed,
            "scenarios": [r.to_json() for r in results],
            "targets": [c.to_json() for c in checks],
        }
        json.dump(doc, sys.stdout, indent=2)
        print()
    else:
        mode = "--quick" if args.quick else "full"
        load = info["load_average"]
        load_text = f"{load:.1f}" if load is not None else "unknown"
        print(
            f"## agentstore benchmarks ({mode}, {reps} samples per row after a warm-up)\n\n"
            f"Python {info['python']}, SQLite {info['sqlite']}, {info['cpus']} CPUs, "
            f"{info['platform']}, {info['date']}; load average {load_text} "
            f"when it started. Whole run: {elapsed:.0f} s.\n"
        )
        print(render(results))
        print(targets.render(checks))
    progress(f"done in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
