"""Rate limits: fixed-window increments, and ``hit`` (fixed and sliding windows), in memory
and on SQLite one commit per call, beside the ``limits`` library and raw floors."""

from __future__ import annotations

import math
import threading
import time

from agentstore.ratelimit import Strategy

from benchmarks.common import (
    SQLITE_NORMAL,
    Settings,
    agentstore_sqlite_durability,
    check_synchronous,
    open_agentstore,
    sqlite_connect,
)
from benchmarks.harness import CallRunner, Contender, Runner, Scenario, Unavailable, repeat

KEY = "agent:bench"
WINDOW = 60.0
LIMIT = 1_000_000_000
"""A limit no run reaches: every hit is allowed and counted, the costly path."""


def _dict_floor(n: int) -> Runner:
    lock = threading.Lock()
    windows: dict[str, list[float]] = {}

    def increment(key: str, amount: int, window: float) -> int:
        now = time.time()
        with lock:
            w = windows.get(key)
            if w is None or now >= w[0]:
                windows[key] = [now + window, amount]
                return amount
            w[1] += amount
            return int(w[1])

    return CallRunner(repeat(lambda: increment(KEY, 1, WINDOW), n), n)


def _agentstore(backend: str, n: int, section: dict[str, str] | None = None) -> Runner:
    store = open_agentstore(backend, section)
    counter = store.rate_limits
    counter.reset(KEY)
    return CallRunner(repeat(lambda: counter.increment(KEY, 1, WINDOW), n), n, store.close)


def _limits(n: int) -> Runner:
    try:
        from limits import parse
        from limits.storage import MemoryStorage
        from limits.strategies import FixedWindowRateLimiter
    except ImportError as exc:
        raise Unavailable("limits is not installed (uv run --group bench)") from exc
    storage = MemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    item = parse("1000000000/minute")  # never refuses: every hit is one counted increment
    return CallRunner(repeat(lambda: limiter.hit(item, KEY), n), n, storage.reset)


def _hit_floor(n: int) -> Runner:
    """Check and count under one lock: the least a fixed-window hit can do."""
    lock = threading.Lock()
    windows: dict[str, list[float]] = {}

    def hit(key: str, limit: int, window: float) -> bool:
        now = time.time()
        with lock:
            w = windows.get(key)
            if w is None or now >= w[0]:
                windows[key] = [now + window, 1]
                return True
            if w[1] + 1 > limit:
                return False
            w[1] += 1
            return True

    return CallRunner(repeat(lambda: hit(KEY, LIMIT, WINDOW), n), n)


def _sliding_floor(n: int) -> Runner:
    """The two-window weighted count under one lock, with no result object."""
    lock = threading.Lock()
    windows: dict[str, tuple[int, int, int]] = {}  # key -> (window index, current, previous)

    def hit(key: str, limit: int, window: float) -> bool:
        now = time.time()
        index = int(now // window)
        weight = ((index + 1) * window - now) / window
        with lock:
            at, current, previous = windows.get(key, (index, 0, 0))
            if at != index:
                current, previous = 0, (current if at == index - 1 else 0)
            if math.floor(previous * weight) + current + 1 > limit:
                return False
            windows[key] = (index, current + 1, previous)
            return True

    return CallRunner(repeat(lambda: hit(KEY, LIMIT, WINDOW), n), n)


def _agentstore_hit(
    backend: str, strategy: Strategy, n: int, section: dict[str, str] | None = None
) -> Runner:
    store = open_agentstore(backend, section)
    limits = store.rate_limits
    limits.reset(KEY)
    return CallRunner(
        repeat(lambda: limits.hit(KEY, LIMIT, WINDOW, strategy=strategy), n), n, store.close
    )


def _limits_hit(strategy: Strategy, n: int) -> Runner:
    try:
        from limits import RateLimitItemPerSecond
        from limits.storage import MemoryStorage
        from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter
    except ImportError as exc:
        raise Unavailable("limits is not installed (uv run --group bench)") from exc
    storage = MemoryStorage()
    kind = FixedWindowRateLimiter if strategy == "fixed" else SlidingWindowCounterRateLimiter
    limiter = kind(storage)
    item = RateLimitItemPerSecond(LIMIT, int(WINDOW))
    return CallRunner(repeat(lambda: limiter.hit(item, KEY), n), n, storage.reset)


UPSERT = """
INSERT INTO floor_rate (key, window_end, count) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN ? >= floor_rate.window_end THEN excluded.count
                 ELSE floor_rate.count + excluded.count END,
    window_end = CASE WHEN ? >= floor_rate.window_end THEN excluded.window_end
                      ELSE floor_rate.window_end END
RETURNING count
"""


def _sqlite_floor(settings: Settings, n: int) -> Runner:
    conn = sqlite_connect(settings.path("rl-floor") / "floor.db", "NORMAL")
    check_synchronous(conn.execute("PRAGMA synchronous").fetchone()[0], "NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS floor_rate "
        "(key TEXT PRIMARY KEY, window_end REAL NOT NULL, count INTEGER NOT NULL)"
    )

    def increment(key: str, amount: int, window: float) -> int:
        now = time.time()
        # fetchall steps the statement to its end, so its implicit transaction commits here
        rows = conn.execute(UPSERT, (key, now + window, amount, now, now)).fetchall()
        return int(rows[0][0])

    return CallRunner(repeat(lambda: increment(KEY, 1, WINDOW), n), n, conn.close)


HIT_UPSERT = """
INSERT INTO floor_hit (key, window_end, count) VALUES (?, ?, 1)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN ? >= floor_hit.window_end THEN 1 ELSE floor_hit.count + 1 END,
    window_end = CASE WHEN ? >= floor_hit.window_end THEN excluded.window_end
                      ELSE floor_hit.window_end END
WHERE ? >= floor_hit.window_end OR floor_hit.count < ?
RETURNING count, window_end
"""


def _sqlite_hit_floor(settings: Settings, n: int) -> Runner:
    conn = sqlite_connect(settings.path("rl-hit-floor") / "floor.db", "NORMAL")
    check_synchronous(conn.execute("PRAGMA synchronous").fetchone()[0], "NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS floor_hit "
        "(key TEXT PRIMARY KEY, window_end REAL NOT NULL, count INTEGER NOT NULL)"
    )

    def hit(key: str, limit: int, window: float) -> bool:
        now = time.time()
        return bool(conn.execute(HIT_UPSERT, (key, now + window, now, now, now, limit)).fetchall())

    return CallRunner(repeat(lambda: hit(KEY, LIMIT, WINDOW), n), n, conn.close)


def _hit_scenarios(settings: Settings, mem: int, disk: int) -> list[Scenario]:
    def sqlite(strategy: Strategy) -> Contender:
        section = {
            "path": str(settings.path(f"rl-hit-{strategy}") / "agentstore.db"),
            "synchronous": "NORMAL",
        }
        return Contender(
            f"agentstore sqlite hit ({strategy})",
            "agentstore",
            agentstore_sqlite_durability(),
            lambda: _agentstore_hit("sqlite", strategy, disk, section),
        )

    return [
        Scenario(
            key="ratelimit-hit-memory",
            title="rate_limits.hit in memory (one key, 60 s window, a limit never reached)",
            unit="hits",
            note=(
                f"{mem} hits per sample, one thread, each allowed and counted. Floors: a dict "
                "under a threading.Lock checking and counting a fixed window, and the same "
                "for the two-window weighted count; agentstore returns a RateLimitResult "
                "(remaining, reset time), limits a bool."
            ),
            contenders=[
                Contender(
                    "dict + lock, fixed (floor)", "floor", "in memory", lambda: _hit_floor(mem)
                ),
                Contender(
                    "dict + lock, sliding",
                    "floor",
                    "in memory",
                    lambda: _sliding_floor(mem),
                ),
                Contender(
                    "agentstore memory hit (fixed)",
                    "agentstore",
                    "in memory",
                    lambda: _agentstore_hit("memory", "fixed", mem),
                ),
                Contender(
                    "agentstore memory hit (sliding)",
                    "agentstore",
                    "in memory",
                    lambda: _agentstore_hit("memory", "sliding", mem),
                ),
                Contender(
                    "limits MemoryStorage + FixedWindowRateLimiter",
                    "peer",
                    "in memory",
                    lambda: _limits_hit("fixed", mem),
                ),
                Contender(
                    "limits MemoryStorage + SlidingWindowCounterRateLimiter",
                    "peer",
                    "in memory",
                    lambda: _limits_hit("sliding", mem),
                ),
            ],
        ),
        Scenario(
            key="ratelimit-hit-sqlite",
            title="rate_limits.hit on SQLite (one commit per hit)",
            unit="hits",
            note=(
                f"{disk} hits per sample, each allowed and counted. The floor is one "
                "conditional INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING in its "
                "own transaction; the sliding hit also reads the previous window's row in "
                "that one statement."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 conditional upsert (floor)",
                    "floor",
                    SQLITE_NORMAL,
                    lambda: _sqlite_hit_floor(settings, disk),
                ),
                sqlite("fixed"),
                sqlite("sliding"),
            ],
        ),
    ]


def scenarios(settings: Settings) -> list[Scenario]:
    mem = settings.n(200_000, 30_000)
    disk = settings.n(3000, 800)
    return [
        Scenario(
            key="ratelimit-memory",
            title="Rate-limit increments in memory (one key, 60 s fixed window)",
            unit="increments",
            note=(
                f"{mem} increments per sample, one thread. The floor is a dict of "
                "[window end, count] under a threading.Lock, reading time.time() each call."
            ),
            contenders=[
                Contender("dict + lock (floor)", "floor", "in memory", lambda: _dict_floor(mem)),
                Contender(
                    "agentstore memory",
                    "agentstore",
                    "in memory",
                    lambda: _agentstore("memory", mem),
                ),
                Contender(
                    "limits MemoryStorage + FixedWindowRateLimiter",
                    "peer",
                    "in memory",
                    lambda: _limits(mem),
                ),
            ],
        ),
        Scenario(
            key="ratelimit-sqlite",
            title="Rate-limit increments on SQLite (one commit per increment)",
            unit="increments",
            note=(
                f"{disk} increments per sample. The floor is one INSERT ... ON CONFLICT DO "
                "UPDATE ... RETURNING statement in its own transaction."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 upsert RETURNING (floor)",
                    "floor",
                    SQLITE_NORMAL,
                    lambda: _sqlite_floor(settings, disk),
                ),
                Contender(
                    "agentstore sqlite",
                    "agentstore",
                    agentstore_sqlite_durability(),
                    lambda: _agentstore(
                        "sqlite",
                        disk,
                        {
                            "path": str(settings.path("rl-agentstore") / "agentstore.db"),
                            "synchronous": "NORMAL",
                        },
                    ),
                ),
            ],
        ),
        *_hit_scenarios(settings, mem, disk),
    ]
