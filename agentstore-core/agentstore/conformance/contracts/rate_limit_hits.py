"""The contracts of ``rate_limits.hit`` and ``window_stats``: both strategies, both faces.

Windows are checked on the store's clock (a :class:`FakeClock` starting at :data:`EPOCH`,
a multiple of every window length used here, so it opens an aligned sliding window).
Concurrency is checked by racing hits from threads, tasks and (for a driver declaring
``cross_process``) processes against one limit: exactly ``limit`` may pass.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from typing import ClassVar

import pytest

from agentstore.capabilities import MAX_INT, MAX_NAME_LENGTH, CapabilityName
from agentstore.conformance.contracts.aio import AsyncContractBase
from agentstore.conformance.contracts.base import THREADS, ContractBase, run_threads
from agentstore.conformance.support import EPOCH
from agentstore.errors import InvalidInput
from agentstore.ratelimit import RateLimitResult, Strategy

STRATEGIES = pytest.mark.parametrize("strategy", ["fixed", "sliding"])

HUGE_WINDOW = 1e9
"""Seconds: a window no test run on the real clock crosses (aligned windows turn in 2033)."""


class RateLimitHitContract(ContractBase):
    """``hit`` and ``window_stats``: atomic, a refused hit counts nothing, never past the limit."""

    capability: ClassVar[CapabilityName | None] = "rate_limits"

    def test_rate_limit_hit_fixed_window_allows_up_to_the_limit(self) -> None:
        rl = self.open_store().rate_limits
        results = [rl.hit("k", 3, 10) for _ in range(3)]
        assert [r.remaining for r in results] == [2, 1, 0]
        assert {(r.allowed, r.limit, r.reset_at, r.retry_after) for r in results} == {
            (True, 3, EPOCH + 10, 0.0)
        }
        refused = rl.hit("k", 3, 10)
        assert refused == RateLimitResult(False, 3, 0, EPOCH + 10, 10.0)
        assert rl.current("k") == 3  # the refused hit counted nothing
        self.clock.advance(4)
        assert rl.hit("k", 3, 10).retry_after == 6.0
        self.clock.advance(6)  # exactly the window's end: a new window opens
        assert rl.hit("k", 3, 10) == RateLimitResult(True, 3, 2, EPOCH + 20, 0.0)

    @STRATEGIES
    def test_rate_limit_hit_refused_counts_nothing(self, strategy: Strategy) -> None:
        rl = self.open_store().rate_limits
        assert rl.hit("k", 10, 60, cost=8, strategy=strategy).remaining == 2
        refused = rl.hit("k", 10, 60, cost=5, strategy=strategy)
        assert (refused.allowed, refused.remaining) == (False, 2)
        assert refused.retry_after > 0
        last = rl.hit("k", 10, 60, cost=2, strategy=strategy)
        assert (last.allowed, last.remaining) == (True, 0)
        assert not rl.hit("k", 10, 60, strategy=strategy).allowed

    def test_rate_limit_hit_counts_in_the_increment_window(self) -> None:
        rl = self.open_store().rate_limits
        rl.increment("k", 2, 10.0)
        assert rl.hit("k", 3, 10) == RateLimitResult(True, 3, 0, EPOCH + 10, 0.0)
        assert not rl.hit("k", 3, 10).allowed
        assert rl.current("k") == 3
        assert rl.increment("k", 1, 10.0) == 4  # increment counts past any limit, as before

    @STRATEGIES
    def test_rate_limit_window_stats_counts_nothing(self, strategy: Strategy) -> None:
        rl = self.open_store().rate_limits
        fresh = rl.window_stats("k", 5, 10, strategy=strategy)
        assert fresh == RateLimitResult(True, 5, 5, EPOCH, 0.0)
        hit = rl.hit("k", 5, 10, cost=3, strategy=strategy)
        for _ in range(3):
            look = rl.window_stats("k", 5, 10, strategy=strategy)
            assert (look.allowed, look.remaining, look.reset_at) == (True, 2, hit.reset_at)
        too_much = rl.window_stats("k", 5, 10, cost=3, strategy=strategy)
        assert (too_much.allowed, too_much.remaining) == (False, 2)
        assert too_much.retry_after > 0
        assert rl.hit("k", 5, 10, cost=2, strategy=strategy).remaining == 0

    def test_rate_limit_sliding_window_weighs_the_previous_window(self) -> None:
        rl = self.open_store().rate_limits
        self.clock.advance(5)  # halfway through the aligned window [EPOCH, EPOCH + 10)
        assert rl.hit("k", 10, 10, cost=10, strategy="sliding").remaining == 0
        self.clock.advance(5)  # the next window: the previous one still weighs it all
        at_turn = rl.hit("k", 10, 10, strategy="sliding")
        assert (at_turn.allowed, at_turn.remaining) == (False, 0)
        assert 0 < at_turn.retry_after <= 1.0  # one tenth of it has slid out after 1 s
        self.clock.advance(5)  # half the previous window still counts: floor(10 * 0.5)
        assert rl.window_stats("k", 10, 10, strategy="sliding").remaining == 5
        passed = [rl.hit("k", 10, 10, strategy="sliding").allowed for _ in range(6)]
        assert passed == [True] * 5 + [False]
        self.clock.advance(5)  # the 5 counted now make up the previous window
        assert rl.window_stats("k", 10, 10, strategy="sliding").remaining == 5
        self.clock.advance(10)  # two windows on: nothing counts
        assert rl.window_stats("k", 10, 10, strategy="sliding") == RateLimitResult(
            True, 10, 10, self.clock(), 0.0
        )

    @STRATEGIES
    def test_rate_limit_hit_retry_after_is_when_a_hit_fits(self, strategy: Strategy) -> None:
        rl = self.open_store().rate_limits
        self.clock.advance(2.5)
        for cost in (1, 3):
            while (result := rl.hit("k", 4, 10, cost=cost, strategy=strategy)).allowed:
                assert result.retry_after == 0.0
            assert result.retry_after > 0
            before = rl.window_stats("k", 4, 10, cost=cost, strategy=strategy)
            assert before.allowed is False
            self.clock.advance(result.retry_after)
            assert rl.hit("k", 4, 10, cost=cost, strategy=strategy).allowed

    @STRATEGIES
    def test_rate_limit_hit_reset_at_is_when_the_count_is_gone(self, strategy: Strategy) -> None:
        rl = self.open_store().rate_limits
        self.clock.advance(7)
        for _ in range(3):
            rl.hit("k", 3, 10, strategy=strategy)
        reset_at = rl.window_stats("k", 3, 10, strategy=strategy).reset_at
        assert reset_at > self.clock()
        self.clock.advance(reset_at - self.clock())
        assert rl.window_stats("k", 3, 10, strategy=strategy).remaining == 3

    def test_rate_limit_hit_strategies_count_apart_and_reset_together(self) -> None:
        rl = self.open_store().rate_limits
        rl.hit("k", 2, 10, cost=2)
        assert rl.hit("k", 2, 10, cost=2, strategy="sliding").allowed
        assert not rl.hit("k", 2, 10, strategy="fixed").allowed
        assert not rl.hit("k", 2, 10, strategy="sliding").allowed
        assert rl.hit("other", 2, 10, cost=2, strategy="sliding").allowed
        rl.reset("k")
        rl.reset("k")
        for strategy in ("fixed", "sliding"):
            assert rl.window_stats("k", 2, 10, strategy=strategy).remaining == 2
        assert rl.window_stats("other", 2, 10, strategy="sliding").remaining == 0

    @pytest.mark.parametrize(
        ("args", "what"),
        [
            (("k", 0, 10), "limit"),
            (("k", -1, 10), "limit"),
            (("k", 1.5, 10), "limit"),
            (("k", True, 10), "limit"),
            (("k", "3", 10), "limit"),
            (("k", MAX_INT + 1, 10), "limit"),
            (("k", 3, 0), "window_secs"),
            (("k", 3, float("nan")), "window_secs"),
            (("k", 3, "10"), "window_secs"),
            (("", 3, 10), "key"),
            (("k" * (MAX_NAME_LENGTH + 1), 3, 10), "key"),
            (("k\x00", 3, 10), "key"),
            ((None, 3, 10), "key"),
            (("agentstore:sliding:0:k", 3, 10), "reserved"),
        ],
    )
    @STRATEGIES
    def test_rate_limit_hit_rejects_bad_arguments(
        self, args: tuple[object, ...], what: str, strategy: Strategy
    ) -> None:
        rl = self.open_store().rate_limits
        for call in (rl.hit, rl.window_stats):
            with pytest.raises(InvalidInput, match=what):
                call(*args, strategy=strategy)  # type: ignore[arg-type]
        assert rl.window_stats("k", 3, 10, strategy=strategy).remaining == 3
        assert rl.current("k") == 0

    @pytest.mark.parametrize(
        ("cost", "strategy", "what"),
        [
            (0, "fixed", "cost"),
            (4, "sliding", "cost 4 is more than the limit 3"),
            (1.0, "fixed", "cost"),
            (1, "moving", "strategy"),
            (1, None, "strategy"),
        ],
    )
    def test_rate_limit_hit_rejects_bad_cost_or_strategy(
        self, cost: object, strategy: object, what: str
    ) -> None:
        rl = self.open_store().rate_limits
        for call in (rl.hit, rl.window_stats):
            with pytest.raises(InvalidInput, match=what):
                call("k", 3, 10, cost=cost, strategy=strategy)  # type: ignore[arg-type]
        assert rl.window_stats("k", 3, 10).remaining == 3
        assert rl.window_stats("k", 3, 10, strategy="sliding").remaining == 3

    def test_rate_limit_hit_values_are_detached_and_frozen(self) -> None:
        rl = self.open_store().rate_limits
        result = rl.hit("k", 1, 10)
        with pytest.raises(AttributeError):
            result.allowed = False  # type: ignore[misc]
        assert hash(result) == hash(RateLimitResult(True, 1, 0, EPOCH + 10, 0.0))
        assert result and not rl.hit("k", 1, 10)  # true exactly when allowed

    @STRATEGIES
    def test_rate_limit_hit_never_passes_the_limit_under_threads(self, strategy: Strategy) -> None:
        rl = self.open_store().rate_limits
        limit, each = 50, 20  # THREADS * each attempts, more than the limit

        def work(_: int) -> list[RateLimitResult]:
            return [rl.hit("k", limit, 3600, strategy=strategy) for _ in range(each)]

        results = [r for rs in run_threads(THREADS, work) for r in rs]
        passed = [r for r in results if r.allowed]
        # Exactly the limit passed, each seeing a distinct remaining count: none was lost
        # or counted twice, and no refused hit took a place.
        assert sorted(r.remaining for r in passed) == list(range(limit))
        assert all(r.remaining == 0 and r.retry_after > 0 for r in results if not r.allowed)
        assert rl.window_stats("k", limit, 3600, strategy=strategy).remaining == 0

    @STRATEGIES
    def test_rate_limit_hit_exact_across_stores(self, strategy: Strategy) -> None:
        self.require_persistent()
        stores = [self.open_store() for _ in range(2)]
        limit, each = 30, 10

        def work(i: int) -> int:
            rl = stores[i % 2].rate_limits
            return sum(rl.hit("k", limit, 3600, strategy=strategy).allowed for _ in range(each))

        assert sum(run_threads(THREADS, work)) == limit
        for store in stores:
            assert (
                store.rate_limits.window_stats("k", limit, 3600, strategy=strategy).remaining == 0
            )

    @STRATEGIES
    def test_rate_limit_hit_persists_across_reopen(self, strategy: Strategy) -> None:
        self.require_persistent()
        first = self.open_store()
        first.rate_limits.hit("k", 5, 10, cost=3, strategy=strategy)
        first.close()
        again = self.open_store().rate_limits
        assert again.window_stats("k", 5, 10, strategy=strategy).remaining == 2
        self.clock.advance(20)
        assert again.window_stats("k", 5, 10, strategy=strategy).remaining == 5

    @STRATEGIES
    def test_rate_limit_hit_from_processes_never_passes_the_limit(self, strategy: Strategy) -> None:
        self.require_persistent()  # the children and this test must open the same storage
        key = f"procs-{uuid.uuid4().hex}"
        limit, processes, each = 40, 4, 25
        passed = self.child_hits(key, strategy, limit, processes, each)
        assert sum(passed) == limit, passed
        # The test's clock (EPOCH) falls in the children's window: it sees the limit spent.
        rl = self.open_store().rate_limits
        assert rl.window_stats(key, limit, HUGE_WINDOW, strategy=strategy).remaining == 0

    # -- helpers ---------------------------------------------------------------------------

    def child_hits(
        self, key: str, strategy: str, limit: int, processes: int, each: int
    ) -> list[int]:
        """How many of ``each`` hits passed in each of ``processes`` racing processes
        (real clock, a window of :data:`HUGE_WINDOW`). Skips unless the driver declares
        ``cross_process``."""
        if not self.spec.cross_process:
            pytest.skip(
                f"driver {self.spec.name!r} does not declare that separate processes may share "
                "its storage (DriverSpec cross_process=True)"
            )
        if self.spec.distribution is None:
            pytest.skip("a driver registered in-process cannot be opened by another process")
        script = (
            "import pathlib, sys, agentstore\n"
            "policy_file, source, key, strategy, limit, each, window = sys.argv[1:8]\n"
            "text = pathlib.Path(policy_file).read_text(encoding='utf-8')\n"
            "policy = agentstore.StorePolicy.loads(text, source=source or None)\n"
            "with agentstore.open(policy) as store:\n"
            "    rl = store.rate_limits\n"
            "    hits = [rl.hit(key, int(limit), float(window), strategy=strategy)\n"
            "            for _ in range(int(each))]\n"
            "    print(sum(h.allowed for h in hits))\n"
        )
        # The policy may hold secrets: a file only its owner reads, never argv.
        fd, policy_file = tempfile.mkstemp(prefix="agentstore-policy-", suffix=".toml")
        children: list[subprocess.Popen[bytes]] = []
        counts: list[int] = []
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.policy.dumps())
            args = [policy_file, self.policy.source or "", key, strategy, str(limit), str(each)]
            for _ in range(processes):
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-c", script, *args, str(HUGE_WINDOW)],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        env=os.environ.copy(),
                    )
                )
            for child in children:
                out, err = child.communicate(timeout=self.CHILD_TIMEOUT)
                assert child.returncode == 0, err.decode(errors="replace")
                counts.append(int(out.decode().strip().splitlines()[-1]))
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                child.communicate()
            os.unlink(policy_file)
        return counts


class AsyncRateLimitHitContract(AsyncContractBase):
    """``hit`` and ``window_stats`` through ``agentstore.aio``: the same results."""

    capability: ClassVar[CapabilityName | None] = "rate_limits"

    @STRATEGIES
    def test_aio_rate_limits_hit_and_window_stats(self, strategy: Strategy) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                rl = store.rate_limits
                assert await rl.window_stats("k", 3, 10, strategy=strategy) == RateLimitResult(
                    True, 3, 3, EPOCH, 0.0
                )
                passed = [await rl.hit("k", 3, 10, strategy=strategy) for _ in range(3)]
                assert [r.remaining for r in passed] == [2, 1, 0]
                refused = await rl.hit("k", 3, 10, cost=1, strategy=strategy)
                assert (refused.allowed, refused.remaining) == (False, 0)
                assert refused.retry_after > 0
                look = await rl.window_stats("k", 3, 10, strategy=strategy)
                assert (look.allowed, look.reset_at) == (False, refused.reset_at)
                self.clock.advance(refused.retry_after)
                assert (await rl.hit("k", 3, 10, strategy=strategy)).allowed
                await rl.reset("k")
                assert (await rl.window_stats("k", 3, 10, strategy=strategy)).remaining == 3
                with pytest.raises(InvalidInput, match="cost"):
                    await rl.hit("k", 3, 10, cost=4, strategy=strategy)
                with pytest.raises(InvalidInput, match="reserved"):
                    await rl.window_stats("agentstore:k", 3, 10, strategy=strategy)
            finally:
                await store.aclose()

        self.run(main)

    @STRATEGIES
    def test_aio_rate_limits_hit_never_passes_the_limit(self, strategy: Strategy) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                rl = store.rate_limits
                limit = 25
                tries = [rl.hit("k", limit, 3600, strategy=strategy) for _ in range(limit * 3)]
                results = await asyncio.gather(*tries)
                passed = sorted(r.remaining for r in results if r.allowed)
                assert passed == list(range(limit))
            finally:
                await store.aclose()

        self.run(main)


__all__ = ["AsyncRateLimitHitContract", "RateLimitHitContract"]
