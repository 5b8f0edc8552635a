"""Rate limiting a caller can act on: :meth:`RateLimits.hit` and :meth:`RateLimits.window_stats`.

:class:`~agentstore.RateLimitCounter` takes these methods from :class:`RateLimits`. A hit
asks to spend ``cost`` of ``limit`` in a window of ``window_secs`` and is answered with a
:class:`RateLimitResult`: allowed or not, what remains, when the window resets and, when
refused, how long to wait (an HTTP ``Retry-After``). Deciding and counting are one atomic
step in every driver, across threads and (for a driver declaring ``cross_process``)
processes: however many callers race, no window lets more than ``limit`` through. A
refused hit counts nothing, so a caller that retries early never pushes its own retry
further away.

Two strategies, named as ``limits`` users know them:

``"fixed"``
    A key's window opens at its first counted hit after the previous window closed and
    lasts ``window_secs`` (the window :meth:`~agentstore.RateLimitCounter.increment`
    counts in: the two share a key's count). Simple and exact, but a burst at the end
    of one window and another at the start of the next can pass ``2 * limit`` within
    ``window_secs``.
``"sliding"``
    The two-window weighted approximation of ``limits``' ``SlidingWindowCounter`` (and
    of Cloudflare's and Redis' well-known recipes): windows are aligned on multiples of
    ``window_secs`` since the epoch, and a hit is counted against ``floor(previous *
    weight) + current``, where ``weight`` is the share of the previous window still
    inside the last ``window_secs``. It smooths the boundary burst at the cost of two
    counters per key; an exact sliding log would keep one timestamp per counted hit
    (``limit`` of them per key) and rewrite them on every hit, which a shared SQL or
    key-value store cannot do in one cheap atomic step. Its state is apart from the
    fixed window's: the same key used with both strategies counts twice.

Keys are rate-limit keys as :meth:`~agentstore.RateLimitCounter.increment` takes them,
except that keys starting with ``agentstore:`` belong to the store (a SQL store keeps the
sliding windows' counters under them) and are refused here. ``reset(key)`` forgets both
strategies' state of ``key``.

A driver serves the strategies through four hooks, :meth:`RateLimits._hit_fixed`,
:meth:`RateLimits._fixed_window`, :meth:`RateLimits._hit_sliding` and
:meth:`RateLimits._sliding_window`; a driver written before they existed keeps working and
raises :class:`~agentstore.errors.Unsupported` only when they are called.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final, Literal, NamedTuple

from agentstore.checks import (
    MAX_INT,
    MAX_NAME_LENGTH,
    RESERVED_PREFIX,
    check_int,
    check_name,
    check_seconds,
)
from agentstore.errors import InvalidInput, StoreError, Unsupported, native_error

Strategy = Literal["fixed", "sliding"]
STRATEGIES: Final[tuple[Strategy, ...]] = ("fixed", "sliding")


class RateLimitResult(NamedTuple):
    """What a hit (or a look at the window) found. Immutable (a named tuple, as ``limits``'
    ``WindowStats``); true exactly when ``allowed``, so ``if not rl.hit(...)`` reads as
    ``limits``' boolean ``hit`` does.

    Attributes:
        allowed: the hit was counted (for :meth:`RateLimits.window_stats`: a hit of the
            same cost would be allowed now).
        limit: the limit asked for.
        remaining: how much more the window allows now, after this hit when it counted
            (0 to ``limit``).
        reset_at: when, on the store's clock (seconds since the epoch), the key's count
            is back to zero if nothing more is counted: the end of a fixed window; for
            the sliding window, when the weighted count has slid out. ``now`` when
            nothing is counted.
        retry_after: 0.0 when allowed; otherwise the seconds until a hit of the same cost
            would be allowed, if nothing else is counted meanwhile. An HTTP
            ``Retry-After`` header is ``math.ceil(retry_after)``.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    retry_after: float

    def __bool__(self) -> bool:
        return self.allowed


class FixedCount(NamedTuple):
    """A fixed window as a driver's hook reports it."""

    allowed: bool
    """The hit was counted."""
    total: int
    """The window's total after the hit (as it stands, when refused)."""
    window_end: float
    """When the window closes; at or before ``now`` when no window is open."""


class SlidingCount(NamedTuple):
    """The two counters of a sliding window as a driver's hook reports them."""

    allowed: bool
    """The hit was counted."""
    previous: int
    """The count of the window before :attr:`SlidingWindow.start` (0 if none)."""
    current: int
    """The count of the current window, after the hit (as it stands, when refused)."""


class SlidingWindow(NamedTuple):
    """The aligned window ``now`` falls in, as the core hands it to a driver's hooks."""

    now: float
    length: float
    number: int
    """``start / length``: windows are numbered from the epoch; a driver may keep two
    counters per key, told apart by ``number % 2``."""
    start: float
    end: float
    weight: float
    """The share of the previous window still counted: ``(end - now) / length``."""

    @classmethod
    def at(cls, now: float, length: float) -> SlidingWindow:
        number = math.floor(now / length)
        # Division rounds: make sure start <= now < end on the floats themselves.
        if number * length > now:
            number -= 1
        elif (number + 1) * length <= now:
            number += 1
        start, end = number * length, (number + 1) * length
        return cls(now, length, number, start, end, min(1.0, max(0.0, (end - now) / length)))

    def weighted(self, previous: int) -> int:
        """How much of the previous window's count still counts: ``floor(previous * weight)``."""
        return math.floor(previous * self.weight)

    def allows(self, previous: int, current: int, cost: int, limit: int) -> bool:
        """Whether a hit of ``cost`` fits: ``floor(previous * weight) + current + cost``
        is at most ``limit``."""
        return current <= limit - cost - math.floor(previous * self.weight)

    def roll(self, stored: tuple[float, int, int] | None) -> tuple[int, int]:
        """``(previous, current)`` now, from a key's stored ``(end, current, previous)``:
        the stored window is this one, the one before it, or older (all counts expired)."""
        if stored is None:
            return 0, 0
        end, current, previous = stored
        if end > self.now:
            return previous, current
        if self.now - self.length < end:
            return current, 0
        return 0, 0


def check_hit(
    key: object, limit: object, window_secs: object, cost: object, strategy: object
) -> tuple[str, int, float, int, Strategy]:
    """The arguments of a hit, checked (InvalidInput naming the bad one otherwise)."""
    # The common case is checked inline: this is a per-request hot path.
    if (
        type(key) is str
        and key.isascii()
        and 0 < len(key) <= MAX_NAME_LENGTH
        and "\x00" not in key
        and not key.startswith(RESERVED_PREFIX)
        and type(limit) is int
        and type(cost) is int
        and 1 <= cost <= limit <= MAX_INT
        and strategy in STRATEGIES
    ):
        if type(window_secs) is float and 0.0 < window_secs < math.inf:
            return key, limit, window_secs, cost, strategy
        if type(window_secs) is int and window_secs > 0:
            return key, limit, float(window_secs), cost, strategy
    name = check_name(key, "rate-limit key")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidInput(
            f"rate-limit keys starting with {RESERVED_PREFIX!r} are reserved for the store"
        )
    most = check_int(limit, "limit", 1)
    window = check_seconds(window_secs, "window_secs")
    spend = check_int(cost, "cost", 1)
    if spend > most:
        raise InvalidInput(f"cost {spend} is more than the limit {most}: it could never pass")
    if strategy not in STRATEGIES:
        raise InvalidInput(f"strategy must be 'fixed' or 'sliding', not {strategy!r}")
    return name, most, window, spend, strategy


def fixed_result(limit: int, cost: int, found: FixedCount, now: float) -> RateLimitResult:
    """The result of a fixed-window hit (or look) from what the driver reported."""
    allowed, count, end = found
    if end <= now:
        count, end = 0, now
    remaining = max(0, limit - count)
    return RateLimitResult(allowed, limit, remaining, end, 0.0 if allowed else end - now)


def sliding_result(
    limit: int, cost: int, found: SlidingCount, window: SlidingWindow
) -> RateLimitResult:
    """The result of a sliding-window hit (or look) from what the driver reported."""
    allowed, previous, current = found
    now, length, end = window.now, window.length, window.end
    after = (window.number + 2) * length  # the next window's end, as SlidingWindow.at has it

    def fits(at: float, spend: int) -> bool:
        """Whether a hit of ``spend`` fits at ``at``, if nothing more is counted: the
        arithmetic of SlidingWindow.at(at, length).allows on the counts rolled there."""
        if at < end:
            return current <= limit - spend - math.floor(previous * ((end - at) / length))
        if at < after:
            return math.floor(current * ((after - at) / length)) <= limit - spend
        return True

    remaining = max(0, limit - math.floor(previous * window.weight) - current)
    # When everything counted has slid out: current weighs current * (after - t) / length
    # in the next window and previous, previous * (end - t) / length in this one.
    if current:
        reset_at = _first(max(now, after - length / current), fits, limit)
    elif remaining < limit:
        reset_at = _first(max(now, end - length / previous), fits, limit)
    else:
        reset_at = now
    if allowed:
        return RateLimitResult(True, limit, remaining, reset_at, 0.0)
    # The first moment a hit of ``cost`` fits: floor(weighted) <= room, i.e. weighted < room + 1.
    room = limit - cost - current
    if room >= 0 and previous:
        at = end - (room + 1) * length / previous
    elif current:
        at = max(end, after - (limit - cost + 1) * length / current)
    else:
        at = end
    at = _first(max(now, at), fits, cost)
    return RateLimitResult(False, limit, remaining, reset_at, at - now)


def _first(at: float, fits: Callable[[float, int], bool], spend: int) -> float:
    """``at``, or the first float after it where ``fits(at, spend)`` holds: the bound
    computed is where a strict inequality turns, and rounding may leave it a step short."""
    for _ in range(64):
        if fits(at, spend):
            return at
        at = math.nextafter(at, math.inf)
    return at


class RateLimits:
    """``hit`` and ``window_stats``, and the hooks a driver implements for them.

    Mixed into :class:`~agentstore.RateLimitCounter`; see the module docstring for the
    strategies. The hooks are not abstract: a driver written before them keeps working,
    and raises :class:`~agentstore.errors.Unsupported` only when they are called.
    """

    clock: Callable[[], float]

    def hit(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult:
        """Spend ``cost`` (1 to ``limit``) of ``key``'s ``limit`` per ``window_secs``, if it fits.

        Atomic: the check and the count are one step, so racing threads and processes
        never get more than ``limit`` through one window. A refused hit counts nothing.

        Raises:
            InvalidInput: a bad argument (a cost above the limit, a reserved key, an
                unknown strategy); nothing is counted.
            Unsupported: the driver predates ``hit``.
        """
        name, most, window, spend, how = check_hit(key, limit, window_secs, cost, strategy)
        now = self.clock()
        try:
            if how == "fixed":
                found = self._hit_fixed(name, most, spend, window, now)
                return fixed_result(most, spend, found, now)
            frame = SlidingWindow.at(now, window)
            return sliding_result(most, spend, self._hit_sliding(name, most, spend, frame), frame)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("RateLimitCounter.hit failed in the driver", exc) from exc

    def window_stats(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult:
        """What :meth:`hit` would answer now, counting nothing (``limits``' ``test`` and
        ``get_window_stats`` in one): ``allowed`` says whether a hit of ``cost`` would pass.

        Raises:
            InvalidInput: a bad argument, as for :meth:`hit`.
            Unsupported: the driver predates ``window_stats``.
        """
        name, most, window, spend, how = check_hit(key, limit, window_secs, cost, strategy)
        now = self.clock()
        try:
            if how == "fixed":
                count, end = self._fixed_window(name, now)
                if end <= now:
                    count = 0
                found = FixedCount(count <= most - spend, count, end)
                return fixed_result(most, spend, found, now)
            frame = SlidingWindow.at(now, window)
            previous, current = self._sliding_window(name, frame)
            fits = frame.allows(previous, current, spend, most)
            return sliding_result(most, spend, SlidingCount(fits, previous, current), frame)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("RateLimitCounter.window_stats failed in the driver", exc) from exc

    # -- hooks a driver implements -------------------------------------------------------

    def _hit_fixed(
        self, key: str, limit: int, cost: int, window_secs: float, now: float
    ) -> FixedCount:
        """Atomically add ``cost`` to ``key``'s fixed window (the one ``increment`` counts
        in, opening a new one ending at ``now + window_secs`` when none is open at
        ``now``) unless its total would pass ``limit``; report the window as it stands."""
        raise self._unsupported("hit", "fixed")

    def _fixed_window(self, key: str, now: float) -> tuple[int, float]:
        """``(count, window_end)`` of ``key``'s fixed window; ``(0, now)`` or an end at or
        before ``now`` when none is open. Reads only."""
        raise self._unsupported("window_stats", "fixed")

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> SlidingCount:
        """Atomically add ``cost`` to the count of ``window`` for ``key`` if
        ``window.allows(previous, current, cost, limit)``; report both counters (the
        previous window's is the count of the window just before ``window``, or 0).
        ``window.roll`` turns a stored ``(end, current, previous)`` into them."""
        raise self._unsupported("hit", "sliding")

    def _sliding_window(self, key: str, window: SlidingWindow) -> tuple[int, int]:
        """``(previous, current)`` of ``key`` in ``window``. Reads only."""
        raise self._unsupported("window_stats", "sliding")

    def _unsupported(self, method: str, strategy: str) -> Unsupported:
        return Unsupported(
            f"{type(self).__name__} does not implement RateLimitCounter.{method} "
            f"(strategy {strategy!r}): its driver was written before it; upgrade the driver, "
            "or route rate_limits to one that does ([store.capabilities] rate_limits = ...)"
        )


__all__ = [
    "STRATEGIES",
    "FixedCount",
    "RateLimitResult",
    "RateLimits",
    "SlidingCount",
    "SlidingWindow",
    "Strategy",
    "check_hit",
    "fixed_result",
    "sliding_result",
]
