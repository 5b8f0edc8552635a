"""The contracts of the rate-limit counter and the lifecycle store."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest

from agentstore.capabilities import (
    MAX_INT,
    MAX_NAME_LENGTH,
    CapabilityName,
)
from agentstore.conformance.contracts.base import (
    THREADS,
    ContractBase,
    run_threads,
)
from agentstore.conformance.support import (
    EPOCH,
)
from agentstore.errors import (
    InvalidInput,
    NotFound,
)
from agentstore.types import (
    AgentId,
    AgentInfo,
    SessionId,
)


class RateLimitContract(ContractBase):
    """RateLimitCounter: fixed windows on the store's clock, exact under threads."""

    capability: ClassVar[CapabilityName | None] = "rate_limits"

    def test_rate_limit_starts_at_zero(self) -> None:
        assert self.open_store().rate_limits.current("k") == 0

    def test_rate_limit_increment_returns_the_window_total(self) -> None:
        rl = self.open_store().rate_limits
        assert rl.increment("k") == 1
        assert rl.increment("k") == 2
        assert rl.increment("k", 5) == 7
        assert rl.current("k") == 7

    def test_rate_limit_keys_are_independent(self) -> None:
        rl = self.open_store().rate_limits
        rl.increment("a", 3)
        rl.increment("b")
        assert (rl.current("a"), rl.current("b"), rl.current("c")) == (3, 1, 0)

    def test_rate_limit_window_expires(self) -> None:
        rl = self.open_store().rate_limits
        assert rl.increment("k", 2, window_secs=10) == 2  # window [t0, t0 + 10)
        self.clock.advance(5)
        assert rl.increment("k", 1, window_secs=10) == 3
        self.clock.advance(4.5)
        assert rl.current("k") == 3
        self.clock.advance(0.5)  # exactly t0 + 10: the window is over
        assert rl.current("k") == 0

    def test_rate_limit_new_window_opens_at_next_increment(self) -> None:
        rl = self.open_store().rate_limits
        rl.increment("k", 4, window_secs=10)
        self.clock.advance(25)
        assert rl.increment("k", 1, window_secs=10) == 1  # the old count no longer counts
        self.clock.advance(9)
        assert rl.increment("k", 1, window_secs=10) == 2
        self.clock.advance(1)
        assert rl.current("k") == 0

    def test_rate_limit_fractional_window(self) -> None:
        rl = self.open_store().rate_limits
        rl.increment("k", window_secs=0.5)
        self.clock.advance(0.25)
        assert rl.current("k") == 1
        self.clock.advance(0.25)
        assert rl.current("k") == 0

    def test_rate_limit_reset_is_idempotent(self) -> None:
        rl = self.open_store().rate_limits
        rl.reset("never")
        rl.increment("k", 3)
        rl.increment("other", 2)
        rl.reset("k")
        rl.reset("k")
        assert rl.current("k") == 0
        assert rl.increment("k") == 1
        assert rl.current("other") == 2

    @pytest.mark.parametrize(
        "amount", [0, -1, -(2**63), 2**63, 2**64, 1.0, 1.5, "1", True, False, None]
    )
    def test_rate_limit_rejects_bad_amount(self, amount: object) -> None:
        rl = self.open_store().rate_limits
        rl.increment("k")
        with pytest.raises(InvalidInput, match="amount"):
            rl.increment("k", amount)  # type: ignore[arg-type]
        assert rl.current("k") == 1

    def test_rate_limit_total_past_64_bits_is_refused(self) -> None:
        rl = self.open_store().rate_limits
        assert rl.increment("k", MAX_INT - 1, 60) == MAX_INT - 1
        for amount in (2, 3, MAX_INT):
            with pytest.raises(InvalidInput, match="64-bit") as info:
                rl.increment("k", amount, 60)
            assert "'k'" in str(info.value)
            assert rl.current("k") == MAX_INT - 1  # unchanged
        total = rl.increment("k", 1, 60)  # exactly 2**63-1 is a total like any other
        assert (total, type(total)) == (MAX_INT, int)
        with pytest.raises(InvalidInput, match="64-bit"):
            rl.increment("k", 1, 60)
        current = rl.current("k")
        assert (current, type(current)) == (MAX_INT, int)
        assert rl.increment("other", MAX_INT) == MAX_INT  # other keys are independent
        self.clock.advance(60)  # a new window starts from zero
        assert rl.increment("k", 5, 60) == 5
        rl.reset("other")
        assert rl.increment("other", 1) == 1

    @pytest.mark.parametrize("window", [0, -5, float("nan"), float("inf"), "60", True, None])
    def test_rate_limit_rejects_bad_window(self, window: object) -> None:
        rl = self.open_store().rate_limits
        with pytest.raises(InvalidInput):
            rl.increment("k", 1, window)  # type: ignore[arg-type]
        assert rl.current("k") == 0

    @pytest.mark.parametrize(
        "key", ["", 1, None, "k" * (MAX_NAME_LENGTH + 1), "k\x00", "k\ud800", "\udfff"]
    )
    def test_rate_limit_rejects_bad_keys(self, key: object) -> None:
        rl = self.open_store().rate_limits
        with pytest.raises(InvalidInput):
            rl.increment(key)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            rl.current(key)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            rl.reset(key)  # type: ignore[arg-type]

    def test_rate_limit_exact_under_threads(self) -> None:
        rl = self.open_store().rate_limits
        per_thread = 50
        results = run_threads(
            THREADS, lambda _: [rl.increment("k", 1, 3600) for _ in range(per_thread)]
        )
        # Every increment saw a distinct total: none was lost or counted twice.
        assert sorted(v for r in results for v in r) == list(range(1, THREADS * per_thread + 1))
        assert rl.current("k") == THREADS * per_thread

    def test_rate_limit_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        first.rate_limits.increment("k", 3, 60)
        first.close()
        again = self.open_store()
        assert again.rate_limits.current("k") == 3
        self.clock.advance(60)
        assert again.rate_limits.current("k") == 0

    def test_rate_limit_exact_across_stores(self) -> None:
        self.require_persistent()
        stores = [self.open_store() for _ in range(2)]
        per_thread = 20
        run_threads(
            THREADS,
            lambda i: [
                stores[i % 2].rate_limits.increment("k", 1, 3600) for _ in range(per_thread)
            ],
        )
        assert stores[0].rate_limits.current("k") == THREADS * per_thread


class LifecycleContract(ContractBase):
    """LifecycleStore: register, heartbeat (NotFound unless registered), live within a TTL."""

    capability: ClassVar[CapabilityName | None] = "lifecycle"

    def test_lifecycle_register_and_info(self) -> None:
        lc = self.open_store().lifecycle
        agent = AgentId.new()
        lc.register(agent)
        assert lc.info(agent) == AgentInfo(agent, EPOCH, EPOCH)
        self.clock.advance(3)
        lc.heartbeat(agent)
        assert lc.info(agent) == AgentInfo(agent, EPOCH, EPOCH + 3)

    def test_lifecycle_unregistered_agent_is_not_found(self) -> None:
        lc = self.open_store().lifecycle
        agent = AgentId.new()
        with pytest.raises(NotFound) as info:
            lc.heartbeat(agent)
        assert str(agent) in str(info.value)
        with pytest.raises(NotFound):
            lc.info(agent)
        assert lc.live(60) == []  # a failed heartbeat registers nothing

    def test_lifecycle_live_within_ttl(self) -> None:
        lc = self.open_store().lifecycle
        agent = AgentId.new()
        lc.register(agent)
        assert lc.live(30) == [agent]
        self.clock.advance(30)
        assert lc.live(30) == [agent]  # exactly ttl old still counts
        self.clock.advance(1)
        assert lc.live(30) == []
        assert lc.live(31) == [agent]
        lc.heartbeat(agent)
        assert lc.live(30) == [agent]

    def test_lifecycle_live_is_sorted_and_filtered(self) -> None:
        lc = self.open_store().lifecycle
        old = [AgentId.new() for _ in range(3)]
        for agent in old:
            lc.register(agent)
        self.clock.advance(100)
        fresh = [AgentId.new() for _ in range(5)]
        for agent in fresh:
            lc.register(agent)
        lc.heartbeat(old[0])
        assert lc.live(10) == sorted([*fresh, old[0]])
        assert lc.live(1000) == sorted([*old, *fresh])

    def test_lifecycle_register_again_refreshes(self) -> None:
        lc = self.open_store().lifecycle
        agent = AgentId.new()
        lc.register(agent)
        self.clock.advance(100)
        assert lc.live(30) == []
        lc.register(agent)
        assert lc.live(30) == [agent]
        assert lc.info(agent).last_heartbeat == EPOCH + 100

    def test_lifecycle_deregister_is_idempotent(self) -> None:
        lc = self.open_store().lifecycle
        agent, other = AgentId.new(), AgentId.new()
        lc.deregister(agent)  # never registered: not an error
        lc.register(agent)
        lc.register(other)
        lc.deregister(agent)
        lc.deregister(agent)
        assert lc.live(60) == [other]
        with pytest.raises(NotFound):
            lc.heartbeat(agent)
        with pytest.raises(NotFound):
            lc.info(agent)

    @pytest.mark.parametrize("ttl", [0, -1, float("nan"), "30", True, None])
    def test_lifecycle_rejects_bad_ttl(self, ttl: object) -> None:
        lc = self.open_store().lifecycle
        with pytest.raises(InvalidInput):
            lc.live(ttl)  # type: ignore[arg-type]

    @pytest.mark.parametrize("agent", ["agent", None, SessionId.new(), uuid.uuid4()])
    def test_lifecycle_rejects_non_agent_ids(self, agent: object) -> None:
        lc = self.open_store().lifecycle
        for op in (lc.register, lc.heartbeat, lc.deregister, lc.info):
            with pytest.raises(InvalidInput):
                op(agent)  # type: ignore[arg-type]
        assert lc.live(60) == []

    def test_lifecycle_concurrent_registrations(self) -> None:
        lc = self.open_store().lifecycle
        agents = [[AgentId.new() for _ in range(10)] for _ in range(THREADS)]

        def work(i: int) -> None:
            for agent in agents[i]:
                lc.register(agent)
                lc.heartbeat(agent)

        run_threads(THREADS, work)
        assert lc.live(1) == sorted(a for group in agents for a in group)

    def test_lifecycle_persists_across_reopen(self) -> None:
        self.require_persistent()
        agent = AgentId.new()
        first = self.open_store()
        first.lifecycle.register(agent)
        first.close()
        again = self.open_store()
        assert again.lifecycle.info(agent) == AgentInfo(agent, EPOCH, EPOCH)
        assert again.lifecycle.live(5) == [agent]


# -- the store as a whole -------------------------------------------------------------------


__all__ = [
    "LifecycleContract",
    "RateLimitContract",
]
