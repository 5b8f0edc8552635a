"""Fixed-window rate-limit increments: in memory, and on SQLite one commit per increment."""

from __future__ import annotations

import threading
import time

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
    ]
