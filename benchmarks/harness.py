"""Run contenders side by side and report what was measured.

Every contender of a scenario is opened first, then all of them run one warm-up sample,
then ``reps`` recorded samples, interleaved: each round runs every contender once, in an
order rotated from round to round, so drift of the machine (other load, caches, a growing
file) falls on everyone alike. A sample is a fixed amount of work (``ops``) timed with
``time.perf_counter``; the table reports the median time per operation, the throughput
at the median and the range over the samples, and the ratio of the median time per
operation to the best floor of the scenario (the fastest row whose role is ``floor``).

A contender that cannot run here (a driver not installed, a peer library missing, a server
down) is a row that says why; one that fails while running is a row that shows the error.
Neither stops the run.
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["floor", "agentstore", "peer", "part"]
"""``floor``: the hand-written lower bound; ``agentstore``: the code under test; ``peer``:
another library doing the same work; ``part``: one piece of a floor (shown for insight)."""

Extra = float | int | str | bool


class Unavailable(Exception):
    """The contender cannot run on this machine; the message says why and what to install."""


@dataclass(frozen=True)
class Sample:
    """One timed piece of work: ``ops`` operations in ``seconds`` (wall clock)."""

    ops: int
    seconds: float
    extra: Mapping[str, Extra] = field(default_factory=dict)


class Runner(Protocol):
    """An opened contender: each :meth:`run` does the same amount of work again."""

    def run(self) -> Sample: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Contender:
    """One row of a scenario: a name, its role, its durability setting, how to open it."""

    name: str
    role: Role
    durability: str
    open: Callable[[], Runner]


@dataclass
class Scenario:
    """Contenders doing the same work, compared within one run."""

    key: str
    title: str
    unit: str
    contenders: list[Contender]
    note: str = ""
    skipped: str = ""
    show_rate: bool = True


@dataclass
class Row:
    """What one contender measured (or why it did not)."""

    name: str
    role: Role
    durability: str
    status: Literal["ok", "unavailable", "failed"] = "ok"
    reason: str = ""
    samples: list[Sample] = field(default_factory=list)
    ratio: float | None = None

    def per_op(self) -> list[float]:
        return [s.seconds / s.ops for s in self.samples if s.ops > 0]

    @property
    def median_per_op(self) -> float | None:
        xs = self.per_op()
        return statistics.median(xs) if xs else None

    @property
    def rate_median(self) -> float | None:
        m = self.median_per_op
        return 1.0 / m if m else None

    @property
    def rate_range(self) -> tuple[float, float] | None:
        xs = self.per_op()
        if not xs or min(xs) <= 0:
            return None
        return 1.0 / max(xs), 1.0 / min(xs)

    def extras(self) -> dict[str, Extra]:
        """Extras over all samples: the maximum of numbers (a peak), else the distinct values."""
        merged: dict[str, Extra] = {}
        seen: dict[str, list[Extra]] = {}
        for s in self.samples:
            for k, v in s.extra.items():
                seen.setdefault(k, []).append(v)
        for k, vs in seen.items():
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vs):
                merged[k] = max(vs)
            else:
                distinct = sorted({str(v) for v in vs})
                merged[k] = vs[0] if len(distinct) == 1 else "/".join(distinct)
        return merged

    def to_json(self) -> dict[str, Any]:
        rr = self.rate_range
        return {
            "name": self.name,
            "role": self.role,
            "durability": self.durability,
            "status": self.status,
            "reason": self.reason,
            "ops_per_sample": [s.ops for s in self.samples],
            "seconds": [s.seconds for s in self.samples],
            "median_seconds_per_op": self.median_per_op,
            "ops_per_second_median": self.rate_median,
            "ops_per_second_min": rr[0] if rr else None,
            "ops_per_second_max": rr[1] if rr else None,
            "ratio_to_floor": self.ratio,
            "extra": self.extras(),
        }


@dataclass
class ScenarioResult:
    scenario: Scenario
    rows: list[Row]

    def row(self, name: str) -> Row | None:
        for r in self.rows:
            if r.name == name:
                return r
        return None

    def by_role(self, role: Role) -> list[Row]:
        return [r for r in self.rows if r.role == role and r.status == "ok"]

    def best_floor(self) -> Row | None:
        floors = [r for r in self.by_role("floor") if r.median_per_op is not None]
        return min(floors, key=lambda r: r.median_per_op or math.inf, default=None)

    def to_json(self) -> dict[str, Any]:
        s = self.scenario
        best = self.best_floor()
        return {
            "key": s.key,
            "title": s.title,
            "unit": s.unit,
            "note": s.note,
            "skipped": s.skipped,
            "best_floor": best.name if best else None,
            "rows": [r.to_json() for r in self.rows],
        }


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def progress(message: str) -> None:
    """A line on stderr, so stdout stays clean for ``--json``."""
    print(message, file=sys.stderr, flush=True)


def run_scenario(scenario: Scenario, *, reps: int, warmup: int = 1) -> ScenarioResult:
    """Open every contender, warm up, then take ``reps`` interleaved samples of each."""
    rows = [Row(c.name, c.role, c.durability) for c in scenario.contenders]
    if scenario.skipped:
        for r in rows:
            r.status, r.reason = "unavailable", scenario.skipped
        return ScenarioResult(scenario, rows)
    progress(f"-- {scenario.title}")
    runners: dict[int, Runner] = {}
    try:
        for i, (c, row) in enumerate(zip(scenario.contenders, rows, strict=True)):
            try:
                runners[i] = c.open()
            except Unavailable as exc:
                row.status, row.reason = "unavailable", str(exc)
            except Exception as exc:
                row.status, row.reason = "failed", f"opening failed: {_describe(exc)}"
                traceback.print_exc(file=sys.stderr)
        for rnd in range(warmup + reps):
            live = sorted(runners)
            if not live:
                break
            shift = rnd % len(live)
            for i in live[shift:] + live[:shift]:
                if i not in runners:
                    continue
                gc.collect()
                try:
                    sample = runners[i].run()
                except Exception as exc:
                    rows[i].status, rows[i].reason = "failed", _describe(exc)
                    traceback.print_exc(file=sys.stderr)
                    with contextlib.suppress(Exception):
                        runners.pop(i).close()
                    continue
                if rnd >= warmup:
                    rows[i].samples.append(sample)
    finally:
        for runner in runners.values():
            try:
                runner.close()
            except Exception:
                traceback.print_exc(file=sys.stderr)
    result = ScenarioResult(scenario, rows)
    best = result.best_floor()
    floor_per_op = best.median_per_op if best else None
    for r in rows:
        m = r.median_per_op
        if r.status == "ok" and m is not None and floor_per_op:
            r.ratio = m / floor_per_op
    return result


# -- small runner helpers ------------------------------------------------------------------


@dataclass
class CallRunner:
    """A runner that times ``fn`` (which does ``ops`` operations) and calls ``closer`` last."""

    fn: Callable[[], object]
    ops: int
    closer: Callable[[], object] = lambda: None

    def run(self) -> Sample:
        start = time.perf_counter()
        self.fn()
        return Sample(self.ops, time.perf_counter() - start)

    def close(self) -> None:
        self.closer()


def repeat(fn: Callable[[], object], times: int) -> Callable[[], None]:
    """``fn`` called ``times`` times (the loop is part of every contender's cost alike)."""

    def loop() -> None:
        for _ in range(times):
            fn()

    return loop


# -- formatting ------------------------------------------------------------------------------


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_rate(r: float | None) -> str:
    if r is None:
        return "-"
    if r >= 1e6:
        return f"{r / 1e6:.2f}M"
    if r >= 1e3:
        return f"{r / 1e3:.1f}k"
    return f"{r:.0f}"


def fmt_extra(k: str, v: Extra) -> str:
    if isinstance(v, bool):
        return f"{k}: {'yes' if v else 'no'}"
    if isinstance(v, float):
        return f"{k}: {v:.3g}"
    return f"{k}: {v}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> Iterator[str]:
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    yield "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    yield "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    for r in body:
        yield "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"


def render(results: Sequence[ScenarioResult]) -> str:
    """A Markdown table per scenario (the README shows this text as measured)."""
    out: list[str] = []
    for res in results:
        s = res.scenario
        out.append(f"### {s.title}")
        out.append("")
        if s.note:
            out.append(s.note)
            out.append("")
        if s.skipped:
            out.append(f"skipped: {s.skipped}")
            out.append("")
            continue
        header = ["contender", "role", "durability", "median / op"]
        if s.show_rate:
            header += [f"{s.unit}/s (median)", "min..max"]
        header += ["x floor", "notes"]
        body: list[list[str]] = []
        for r in res.rows:
            if r.status != "ok":
                cells = [r.name, r.role, r.durability, "-"]
                if s.show_rate:
                    cells += ["-", "-"]
                body.append([*cells, "-", f"{r.status}: {r.reason}"])
                continue
            rr = r.rate_range
            cells = [r.name, r.role, r.durability, fmt_seconds(r.median_per_op)]
            if s.show_rate:
                rng = f"{fmt_rate(rr[0])}..{fmt_rate(rr[1])}" if rr else "-"
                cells += [fmt_rate(r.rate_median), rng]
            ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
            notes = ", ".join(fmt_extra(k, v) for k, v in r.extras().items())
            body.append([*cells, ratio, notes])
        out.extend(_table(header, body))
        out.append("")
    return "\n".join(out)
