"""``hit`` and ``window_stats`` on a driver written before them, and the window arithmetic.

The behaviour of every real driver is the conformance suite's (``RateLimitHitContract``);
this checks what the core alone promises: a first-release driver keeps working and says
clearly what it cannot do, and the sliding window's arithmetic is ``limits``'.
"""

from __future__ import annotations

import math

import agentstore
import pytest
from agentstore import RateLimitCounter, RateLimitResult, StoreError, StorePolicy, Unsupported
from agentstore.conformance import EPOCH, FakeClock
from agentstore.driver import DriverSpec, DriverStores, OpenContext, SlidingCount, SlidingWindow
from agentstore.ratelimit import sliding_result
from core_drivers import private_registry


class FirstReleaseCounter(RateLimitCounter):
    """A third-party counter as the first release asked for: the three abstract hooks."""

    def __init__(self, clock: agentstore.Clock) -> None:
        super().__init__(clock)
        self.totals: dict[str, int] = {}

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        self.totals[key] = self.totals.get(key, 0) + amount
        return self.totals[key]

    def _current(self, key: str, now: float) -> int:
        return self.totals.get(key, 0)

    def _reset(self, key: str) -> None:
        self.totals.pop(key, None)


def _open(context: OpenContext) -> DriverStores:
    return DriverStores(rate_limits=FirstReleaseCounter(context.clock))


OLD = DriverSpec(
    name="first-release",
    open=lambda config, context: _open(context),
    capabilities=frozenset({"rate_limits"}),
)
OLD_POLICY = StorePolicy("memory", capabilities={"rate_limits": "first-release"})


def test_a_first_release_counter_still_counts_and_says_hit_is_unsupported() -> None:
    with agentstore.open(OLD_POLICY, registry=private_registry(OLD)) as store:
        rl = store.rate_limits
        assert rl.increment("k", 2) == 2
        for strategy in ("fixed", "sliding"):
            for call in (rl.hit, rl.window_stats):
                with pytest.raises(Unsupported) as info:
                    call("k", 5, 60, strategy=strategy)  # type: ignore[operator]
                message = str(info.value)
                assert "FirstReleaseCounter does not implement RateLimitCounter." in message
                assert f"(strategy {strategy!r})" in message
                assert "upgrade the driver" in message
                assert isinstance(info.value, StoreError)
                assert info.value.__cause__ is None
        assert rl.current("k") == 2


def test_bad_arguments_are_refused_before_the_driver_is_asked() -> None:
    with (
        agentstore.open(OLD_POLICY, registry=private_registry(OLD)) as store,
        pytest.raises(agentstore.InvalidInput, match="limit"),
    ):
        store.rate_limits.hit("k", 0, 60)


@pytest.mark.parametrize("length", [0.5, 1.0, 7.0, 60.0, 3600.0, 86400.0])
@pytest.mark.parametrize("offset", [0.0, 1e-6, 0.25, 0.5, 0.999999])
def test_sliding_windows_are_aligned_and_hold_now(length: float, offset: float) -> None:
    now = EPOCH + offset * length
    window = SlidingWindow.at(now, length)
    assert window.start <= now < window.end
    assert window.start == window.number * length and window.end == (window.number + 1) * length
    assert window.weight == pytest.approx(1 - (now - window.start) / length)
    # limits' weight of the previous window: previous_ttl / expiry
    previous_ttl = (1 - (((now - length) / length) % 1)) * length
    assert window.weight == pytest.approx(previous_ttl / length)


def test_sliding_window_rolls_what_a_driver_stored() -> None:
    window = SlidingWindow.at(EPOCH + 15, 10)  # [EPOCH + 10, EPOCH + 20)
    assert window.roll(None) == (0, 0)
    assert window.roll((EPOCH + 20, 4, 7)) == (7, 4)  # this window: as stored
    assert window.roll((EPOCH + 10, 4, 7)) == (4, 0)  # the one before: its count is previous
    assert window.roll((EPOCH, 4, 7)) == (0, 0)  # older: nothing counts
    assert window.weighted(9) == 4  # floor(9 * 0.5)
    assert window.allows(9, 5, 1, 10) and not window.allows(9, 6, 1, 10)


def test_sliding_retry_after_is_the_first_moment_a_hit_fits() -> None:
    clock = FakeClock(EPOCH + 2)
    window = SlidingWindow.at(clock(), 10)
    result = sliding_result(4, 2, SlidingCount(False, 3, 2), window)
    assert result == RateLimitResult(False, 4, 0, result.reset_at, result.retry_after)
    later = SlidingWindow.at(clock() + result.retry_after, 10)
    assert later.allows(3, 2, 2, 4) if later.number == window.number else later.allows(2, 0, 2, 4)
    before = SlidingWindow.at(math.nextafter(clock() + result.retry_after, 0), 10)
    assert not before.allows(3, 2, 2, 4)
