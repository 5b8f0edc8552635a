"""The rate-limit counter of the SQL substrate: fixed and sliding windows in
``agentstore_rate_limits``, each hit one atomic statement (portable between SQLite and
PostgreSQL, as the other stores of :mod:`agentstore.sql`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

from agentstore.capabilities import MAX_INT, RESERVED_PREFIX, Clock, RateLimitCounter
from agentstore.ratelimit import FixedCount, SlidingCount, SlidingWindow
from agentstore.sql.backend import Backend, Value

SLIDING_PREFIX: Final = RESERVED_PREFIX + "sliding:"
"""The rows of a key's sliding windows are ``agentstore:sliding:<number % 2>:<key>``:
rate-limit keys starting with ``agentstore:`` are the store's, refused by ``hit``."""

# The previous window's count, from its row: (row key, now - length, now).
_PREVIOUS = (
    "COALESCE((SELECT p.count FROM agentstore_rate_limits p WHERE p.key = ? "
    "AND p.window_end > ? AND p.window_end <= ?), 0)"
)


class SqlRateLimitCounter(RateLimitCounter):
    """Fixed windows in ``agentstore_rate_limits``; an increment is one atomic upsert.

    A sliding window keeps one row per aligned window in the same table, two per key
    (``SLIDING_PREFIX``, then the window number's parity): a hit is one upsert of the
    current window's row, guarded by the previous window's row, which no hit writes any
    more. A hit is allowed and counted in one statement; a refused one writes nothing and
    reads the window after.
    """

    # A fixed window's upsert: a new window once the stored one has ended, else the count
    # added; binds key, now + window, amount, now, now, then the WHERE's now.
    _FIXED_UPSERT = (
        "INSERT INTO agentstore_rate_limits (key, window_end, count) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET "
        "count = CASE WHEN agentstore_rate_limits.window_end <= ? THEN excluded.count "
        "ELSE agentstore_rate_limits.count + excluded.count END, "
        "window_end = CASE WHEN agentstore_rate_limits.window_end <= ? "
        "THEN excluded.window_end ELSE agentstore_rate_limits.window_end END "
        "WHERE agentstore_rate_limits.window_end <= ? OR agentstore_rate_limits.count <= "
    )
    # A total past 2**63-1 updates nothing (SQLite would store it as a REAL).
    _INCREMENT = _FIXED_UPSERT + f"{MAX_INT} - excluded.count RETURNING count"
    # The increment's upsert, refused (updating nothing) past limit - cost: binds key,
    # now + window, cost, now, now, now, limit - cost.
    _HIT_FIXED = _FIXED_UPSERT + "? RETURNING count, window_end"
    # floor(previous * weight) + current + cost <= limit, written without floor (SQLite
    # may lack it) as previous * weight + current < limit - cost + 1. Binds the current
    # row's key, end, cost; previous (3) and weight, limit - cost + 1; now; now, previous
    # (3) and weight, limit - cost + 1; previous (3).
    _HIT_SLIDING = (
        "INSERT INTO agentstore_rate_limits (key, window_end, count) "
        f"SELECT ?, ?, ? WHERE {_PREVIOUS} * ? < ? "
        "ON CONFLICT (key) DO UPDATE SET "
        "count = CASE WHEN agentstore_rate_limits.window_end <= ? THEN excluded.count "
        "ELSE agentstore_rate_limits.count + excluded.count END, "
        "window_end = excluded.window_end "
        "WHERE CASE WHEN agentstore_rate_limits.window_end <= ? THEN 0 "
        f"ELSE agentstore_rate_limits.count END + {_PREVIOUS} * ? < ? "
        f"RETURNING count, {_PREVIOUS}"
    )
    _GET = "SELECT count, window_end FROM agentstore_rate_limits WHERE key = ?"
    _GET_SLIDING = "SELECT key, window_end, count FROM agentstore_rate_limits WHERE key IN (?, ?)"
    _DELETE = "DELETE FROM agentstore_rate_limits WHERE key IN (?, ?, ?)"

    def __init__(self, backend: Backend, clock: Clock) -> None:
        super().__init__(clock)
        self._backend = backend

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        rows = self._backend.query(self._INCREMENT, (key, now + window_secs, amount, now, now, now))
        if not rows:
            self._refuse_total(key, amount)
        return cast(int, rows[0][0])

    def _current(self, key: str, now: float) -> int:
        rows = self._backend.query(self._GET, (key,))
        if not rows or now >= cast(float, rows[0][1]):
            return 0
        return cast(int, rows[0][0])

    def _reset(self, key: str) -> None:
        self._backend.exec(self._DELETE, self.delete_params(key))

    def _hit_fixed(
        self, key: str, limit: int, cost: int, window_secs: float, now: float
    ) -> FixedCount:
        rows = self._backend.query(
            self._HIT_FIXED, self.hit_fixed_params(key, limit, cost, window_secs, now)
        )
        if rows:
            return FixedCount(True, cast(int, rows[0][0]), float(cast(float, rows[0][1])))
        return FixedCount(False, *self._fixed_window(key, now))

    def _fixed_window(self, key: str, now: float) -> tuple[int, float]:
        rows = self._backend.query(self._GET, (key,))
        return (cast(int, rows[0][0]), float(cast(float, rows[0][1]))) if rows else (0, now)

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> SlidingCount:
        rows = self._backend.query(
            self._HIT_SLIDING, self.hit_sliding_params(key, limit, cost, window)
        )
        if rows:
            return SlidingCount(True, cast(int, rows[0][1]), cast(int, rows[0][0]))
        return SlidingCount(False, *self._sliding_window(key, window))

    def _sliding_window(self, key: str, window: SlidingWindow) -> tuple[int, int]:
        names = self.sliding_keys(key, window)
        return self.sliding_counts(self._backend.query(self._GET_SLIDING, names), names, window)

    # -- the statements' parameters and rows, shared with asyncio drivers -------------------

    @staticmethod
    def sliding_keys(key: str, window: SlidingWindow) -> tuple[str, str]:
        """The rows of ``key``'s current and previous windows."""
        index = window.number % 2
        return f"{SLIDING_PREFIX}{index}:{key}", f"{SLIDING_PREFIX}{1 - index}:{key}"

    @staticmethod
    def delete_params(key: str) -> tuple[str, str, str]:
        """What ``_DELETE`` binds to forget ``key``: its fixed window and both sliding rows."""
        return key, f"{SLIDING_PREFIX}0:{key}", f"{SLIDING_PREFIX}1:{key}"

    @staticmethod
    def hit_fixed_params(
        key: str, limit: int, cost: int, window_secs: float, now: float
    ) -> tuple[Value, ...]:
        return (key, now + window_secs, cost, now, now, now, limit - cost)

    @classmethod
    def hit_sliding_params(
        cls, key: str, limit: int, cost: int, window: SlidingWindow
    ) -> tuple[Value, ...]:
        current, previous = cls.sliding_keys(key, window)
        now = window.now
        before = (previous, now - window.length, now)
        room = limit - cost + 1
        return (
            *(current, window.end, cost, *before, window.weight, room),
            *(now, now, *before, window.weight, room, *before),
        )

    @staticmethod
    def sliding_counts(
        rows: Sequence[Sequence[Value]], names: tuple[str, str], window: SlidingWindow
    ) -> tuple[int, int]:
        """``(previous, current)`` from the rows ``_GET_SLIDING`` read for ``names``."""
        found = {cast(str, row[0]): (float(cast(float, row[1])), cast(int, row[2])) for row in rows}
        previous = current = 0
        if names[0] in found and found[names[0]][0] > window.now:
            current = found[names[0]][1]
        if names[1] in found:
            end, count = found[names[1]]
            if window.now - window.length < end <= window.now:
                previous = count
        return previous, current


__all__ = ["SLIDING_PREFIX", "SqlRateLimitCounter"]
