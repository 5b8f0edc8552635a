"""Broken rate-limit hits for :data:`mutant_drivers.MUTANTS`: each memory counter breaks
one duty of ``RateLimitHitContract``, which must fail for it."""

from __future__ import annotations

import time
from typing import Any

from agentstore.driver import FixedCount, SlidingCount, SlidingWindow
from agentstore_memory.stores import MemoryRateLimitCounter


class RacyHit(MemoryRateLimitCounter):
    """Checks, then counts, without holding the lock in between."""

    def _hit_fixed(self, key: str, limit: int, cost: int, window_secs: float, now: float) -> Any:
        w = self._windows.setdefault(key, [now + window_secs, 0])
        total = int(w[1])
        time.sleep(0.0005)
        if total > limit - cost:
            return FixedCount(False, total, w[0])
        w[1] = total + cost
        return FixedCount(True, total + cost, w[0])

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> Any:
        previous, current = window.roll(self._sliding.get(key))
        time.sleep(0.0005)
        if not window.allows(previous, current, cost, limit):
            return SlidingCount(False, previous, current)
        self._sliding[key] = (window.end, current + cost, previous)
        return SlidingCount(True, previous, current + cost)


class RefusalCounts(MemoryRateLimitCounter):
    """Counts a refused hit too, as ``limits``' fixed window does."""

    def _hit_fixed(self, key: str, limit: int, cost: int, window_secs: float, now: float) -> Any:
        total = self._increment(key, cost, window_secs, now)
        return FixedCount(total <= limit, total, self._windows[key][0])

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> Any:
        found = super()._hit_sliding(key, limit, cost, window)
        if not found.allowed:
            self._sliding[key] = (window.end, found.current + cost, found.previous)
        return found


class ForgetsPreviousWindow(MemoryRateLimitCounter):
    """A sliding window that is a fixed, aligned one: the previous window never counts."""

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> Any:
        current = window.roll(self._sliding.get(key))[1]
        if current + cost > limit:
            return SlidingCount(False, 0, current)
        self._sliding[key] = (window.end, current + cost, 0)
        return SlidingCount(True, 0, current + cost)

    def _sliding_window(self, key: str, window: SlidingWindow) -> tuple[int, int]:
        return 0, window.roll(self._sliding.get(key))[1]


__all__ = ["ForgetsPreviousWindow", "RacyHit", "RefusalCounts"]
