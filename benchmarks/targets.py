"""The targets of issue 6, section 3, read off one run's results. Reported, never enforced."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import Row, ScenarioResult, fmt_rate

MIB = 1024 * 1024


@dataclass(frozen=True)
class Check:
    """One target: what it asks, what this run measured, and whether that meets it."""

    target: str
    measured: str
    met: bool | None  # None: not measurable in this run (a row missing or skipped)

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "measured": self.measured, "met": self.met}


def _ok(row: Row | None) -> Row | None:
    return row if row is not None and row.status == "ok" and row.median_per_op else None


def _why_missing(name: str, row: Row | None) -> str:
    if row is None:
        return f"{name}: not run"
    return f"{name}: {row.status} ({row.reason})" if row.reason else f"{name}: no samples"


def evaluate(results: Sequence[ScenarioResult]) -> list[Check]:
    by_key = {r.scenario.key: r for r in results}
    checks: list[Check] = []

    def get(key: str) -> ScenarioResult | None:
        res = by_key.get(key)
        return res if res is not None and not res.scenario.skipped else None

    def ratio_check(
        key: str,
        target: str,
        a_name: str,
        b: Callable[[ScenarioResult], Row | None] | str,
        test: Callable[[float], bool],
        *,
        throughput: bool,
        also: str = "",
    ) -> None:
        """Compare row ``a`` with row ``b``: time ratio a/b, or throughput ratio a/b."""
        res = get(key)
        if res is None:
            skipped = by_key.get(key)
            why = skipped.scenario.skipped if skipped is not None else "scenario not run"
            checks.append(Check(target, f"n/a: {why or 'scenario not run'}", None))
            return
        a = _ok(res.row(a_name))
        b_row = res.row(b) if isinstance(b, str) else b(res)
        bb = _ok(b_row)
        if a is None or bb is None:
            missing = (
                _why_missing(a_name, res.row(a_name))
                if a is None
                else _why_missing(b if isinstance(b, str) else "floor", b_row)
            )
            checks.append(Check(target, f"n/a: {missing}", None))
            return
        ta, tb = a.median_per_op or 0.0, bb.median_per_op or 0.0
        if throughput:
            value = tb / ta
            text = f"{value:.2f}x ({fmt_rate(a.rate_median)}/s vs {fmt_rate(bb.rate_median)}/s)"
        else:
            value = ta / tb
            text = f"{value:.2f}x the time of {bb.name}"
        other = _ok(res.row(also)) if also else None
        if other is not None:
            text += f"; {ta / (other.median_per_op or 1.0):.2f}x the time of {other.name}"
        checks.append(Check(target, text, test(value)))

    def best_floor(res: ScenarioResult) -> Row | None:
        return res.best_floor()

    ratio_check(
        "sqlite-append",
        "sqlite single append within 1.15x of the floor's time",
        "agentstore sqlite",
        "raw sqlite3 lock-then-insert (floor)",
        lambda v: v <= 1.15,
        throughput=False,
        also="raw sqlite3 optimistic INSERT (floor)",
    )
    ratio_check(
        "sqlite-append",
        "sqlite single append >= 1.4x eventsourcing's throughput (both NORMAL)",
        "agentstore sqlite",
        "eventsourcing SQLiteAggregateRecorder",
        lambda v: v >= 1.4,
        throughput=True,
    )
    ratio_check(
        "postgres-append",
        "postgres single append >= eventsourcing's aggregate recorder",
        "agentstore postgres",
        "eventsourcing PostgresAggregateRecorder",
        lambda v: v >= 1.0,
        throughput=True,
    )
    ratio_check(
        "sqlite-append-many",
        "sqlite append_many within 1.2x of the best floor's time",
        "agentstore sqlite",
        best_floor,
        lambda v: v <= 1.2,
        throughput=False,
    )
    ratio_check(
        "postgres-append-many",
        "postgres append_many within 1.2x of the best floor's time",
        "agentstore postgres",
        best_floor,
        lambda v: v <= 1.2,
        throughput=False,
    )
    ratio_check(
        "postgres-append-many",
        "postgres append_many >= 3x eventsourcing's throughput",
        "agentstore postgres",
        "eventsourcing PostgresAggregateRecorder",
        lambda v: v >= 3.0,
        throughput=True,
    )
    checks.extend(_verify(get("verify")))
    ratio_check(
        "ratelimit-memory",
        "memory rate-limit increments >= 2x limits",
        "agentstore memory",
        "limits MemoryStorage + FixedWindowRateLimiter",
        lambda v: v >= 2.0,
        throughput=True,
    )
    checks.extend(_coldstart(get("coldstart")))
    checks.append(
        _lag(get("aio-sqlite-lag"), "agentstore.aio sqlite", 2.0, "8 tasks appending on sqlite")
    )
    ratio_check(
        "aio-postgres-append",
        "asyncio postgres, 4 tasks on distinct writers, within 1.2x of raw AsyncConnection",
        "agentstore.aio postgres",
        "raw psycopg.AsyncConnection (floor)",
        lambda v: v <= 1.2,
        throughput=False,
    )
    ratio_check(
        "aio-postgres-append",
        "asyncio postgres within 1.2x of raw AsyncConnection running agentstore's statement",
        "agentstore.aio postgres",
        "raw psycopg.AsyncConnection, agentstore's INSERT with head (floor)",
        lambda v: v <= 1.2,
        throughput=False,
    )
    checks.append(
        _lag(get("aio-verify"), "agentstore.aio sqlite await verify()", 5.0, "await verify()")
    )
    ratio_check(
        "aio-verify",
        "asyncio await verify() rate within 1.1x of the synchronous verify",
        "agentstore.aio sqlite await verify()",
        "sync agentstore sqlite verify() (floor)",
        lambda v: v <= 1.1,
        throughput=False,
    )
    ratio_check(
        "postgres-threads",
        "postgres 4 threads on distinct writers, positions included, within 1.15x of the "
        "optimistic-INSERT floor's time",
        "agentstore postgres",
        "psycopg optimistic INSERT (floor)",
        lambda v: v <= 1.15,
        throughput=False,
    )
    for driver in ("sqlite", "postgres"):
        raw = "sqlite3" if driver == "sqlite" else "psycopg"
        ratio_check(
            f"{driver}-append-positions",
            f"{driver}: a single append with positions within 1.10x of the time without",
            f"raw {raw}, agentstore's statement with positions",
            f"raw {raw}, schema 3 statement, no positions (floor)",
            lambda v: v <= 1.10,
            throughput=False,
        )
        ratio_check(
            f"{driver}-feed",
            f"{driver}: reading the feed within 1.2x of a raw ordered scan's time",
            f"agentstore {driver} store.feed()",
            f"raw {raw} ordered scan (floor)",
            lambda v: v <= 1.2,
            throughput=False,
        )
        checks.append(_catch_up(get(f"{driver}-feed-catchup"), driver))
    for key, driver in (("sqlite-growth", "sqlite"), ("postgres-growth", "postgres")):
        res = get(key)
        full = next(
            (
                r.name
                for r in (res.rows if res else [])
                if r.name.startswith(f"agentstore {driver}, log holding")
            ),
            f"agentstore {driver}, log holding 1,000,000 entries",
        )
        ratio_check(
            key,
            f"{driver}: appends to a log holding 1M entries >= 0.9x the rate on an empty one",
            full,
            f"agentstore {driver}, empty log (baseline)",
            lambda v: v >= 0.9,
            throughput=True,
        )
    checks.extend(_watch(get("sqlite-watch-idle"), get("sqlite-watch-latency")))
    return checks


def _catch_up(res: ScenarioResult | None, driver: str) -> Check:
    name = f"agentstore {driver} store.feed()"
    target = f"{driver}: catching up on 1M positions in bounded memory (peak RSS < 100 MB)"
    row = _ok(res.row(name)) if res else None
    if res is None or row is None:
        why = "scenario not run" if res is None else _why_missing(name, res.row(name))
        return Check(target, f"n/a: {why}", None)
    peak = float(row.extras().get("peak RSS MiB", 0.0))
    entries = row.samples[0].ops
    seconds = statistics.median(s.seconds for s in row.samples)
    text = (
        f"{entries:,} positions in {seconds:.2f} s ({fmt_rate(row.rate_median)}/s), {peak:.0f} MiB"
    )
    return Check(target, text, peak * MIB < 100e6)


def _extra_median(row: Row, key: str) -> float | None:
    values = sorted(float(s.extra[key]) for s in row.samples if key in s.extra)
    return values[len(values) // 2] if values else None


def _watch(idle: ScenarioResult | None, latency: ScenarioResult | None) -> list[Check]:
    name = "agentstore sqlite, watch = true"
    idle_t = "sqlite watch = true: idle CPU < 1% of a CPU"
    lag_t = "sqlite watch = true: another process's commit rings within 50 ms (p99)"
    checks: list[Check] = []
    row = _ok(idle.row(name)) if idle else None
    share = _extra_median(row, "CPU % of one core") if row else None
    if share is None:
        why = "scenario not run" if idle is None else _why_missing(name, idle.row(name))
        checks.append(Check(idle_t, f"n/a: {why}", None))
    else:
        checks.append(Check(idle_t, f"{share:.2f}% (median of the samples)", share < 1.0))
    row = _ok(latency.row(name)) if latency else None
    p99 = _extra_median(row, "p99 ms") if row else None
    if p99 is None:
        why = "scenario not run" if latency is None else _why_missing(name, latency.row(name))
        checks.append(Check(lag_t, f"n/a: {why}", None))
    else:
        worst = max(float(s.extra["max ms"]) for s in row.samples) if row else 0.0
        text = f"p99 {p99:.1f} ms (median of the samples); worst {worst:.1f} ms"
        checks.append(Check(lag_t, text, p99 <= 50.0))
    return checks


def _lag(res: ScenarioResult | None, name: str, limit_ms: float, what: str) -> Check:
    target = f"asyncio: event-loop lag p99 <= {limit_ms:g} ms during {what}"
    row = _ok(res.row(name)) if res else None
    if res is None or row is None:
        why = "scenario not run" if res is None else _why_missing(name, res.row(name))
        return Check(target, f"n/a: {why}", None)
    lags = sorted(
        float(s.extra["loop lag p99 ms"]) for s in row.samples if "loop lag p99 ms" in s.extra
    )
    if not lags:
        return Check(target, "n/a: no lag measured", None)
    median = lags[len(lags) // 2]
    return Check(target, f"{median:.2f} ms (median of the samples' p99)", median <= limit_ms)


def _verify(res: ScenarioResult | None) -> list[Check]:
    rate_t = "verify >= 1,000,000 entries/s"
    rss_t = "verify peak RSS < 100 MB"
    row = _ok(res.row("agentstore sqlite verify()")) if res else None
    if res is None or row is None:
        why = (
            "scenario not run"
            if res is None
            else _why_missing("agentstore sqlite verify()", res.row("agentstore sqlite verify()"))
        )
        return [Check(rate_t, f"n/a: {why}", None), Check(rss_t, f"n/a: {why}", None)]
    rate = row.rate_median or 0.0
    extras = row.extras()
    peak = float(extras.get("peak RSS MiB", 0.0))
    total = float(extras.get("with workers (sampled) MiB", 0.0))
    peak_text = f"{peak:.0f} MiB" + (f"; {total:.0f} MiB with its workers" if total else "")
    return [
        Check(rate_t, f"{fmt_rate(rate)}/s on {res.scenario.title.lower()}", rate >= 1e6),
        Check(rss_t, peak_text, max(peak, total) * MIB < 100e6),
    ]


def _coldstart(res: ScenarioResult | None) -> list[Check]:
    imp_t = "cold start: psycopg never imported by a sqlite user"
    over_t = "cold start: <= 20 ms over the unavoidable imports"
    name = "import agentstore + open default store (existing file)"
    row = _ok(res.row(name)) if res else None
    floor = _ok(res.row("unavoidable imports (floor)")) if res else None
    if res is None or row is None or floor is None:
        why = "scenario not run" if res is None else _why_missing(name, res.row(name))
        return [Check(imp_t, f"n/a: {why}", None), Check(over_t, f"n/a: {why}", None)]
    checks: list[Check] = []
    imported = row.extras().get("psycopg imported")
    checks.append(Check(imp_t, f"psycopg imported: {'yes' if imported else 'no'}", not imported))
    together = ((row.median_per_op or 0.0) - (floor.median_per_op or 0.0)) * 1e3
    text = f"{together:+.0f} ms over the imports taken together"
    over = together
    base = _ok(res.row("python -c pass"))
    parts = [_ok(res.row(f"python -c 'import {m}'")) for m in _modules()]
    if base is not None and all(p is not None for p in parts):
        summed = sum((p.median_per_op or 0.0) - (base.median_per_op or 0.0) for p in parts if p)
        own = (row.median_per_op or 0.0) - (base.median_per_op or 0.0)
        over = (own - summed) * 1e3
        text = f"{over:+.0f} ms over the sum of each import alone; " + text
    checks.append(Check(over_t, text, over <= 20.0))
    return checks


def _modules() -> tuple[str, ...]:
    from benchmarks.coldstart import UNAVOIDABLE

    return UNAVOIDABLE


def render(checks: Sequence[Check]) -> str:
    lines = ["### Targets (issue 6, section 3): reported, not enforced", ""]
    lines.append("| target | measured | met |")
    lines.append("|---|---|---|")
    for c in checks:
        met = "n/a" if c.met is None else ("yes" if c.met else "**no**")
        lines.append(f"| {c.target} | {c.measured} | {met} |")
    return "\n".join(lines) + "\n"
