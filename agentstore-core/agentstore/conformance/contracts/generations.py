"""The contract of generations: named counters that only move forward."""

from __future__ import annotations

from typing import ClassVar

import pytest

from agentstore.capabilities import MAX_NAME_LENGTH, CapabilityName
from agentstore.conformance.contracts.base import THREADS, ContractBase, run_threads
from agentstore.errors import InvalidInput, NonMonotonicGeneration


class GenerationContract(ContractBase):
    """Generation: 0 until bumped, first bump 1, only forward, exact under threads."""

    capability: ClassVar[CapabilityName | None] = "generations"

    def test_generation_starts_at_zero(self) -> None:
        store = self.open_store()
        assert store.generation("report").current() == 0

    def test_generation_first_bump_is_one_then_contiguous(self) -> None:
        gen = self.open_store().generation("report")
        assert [gen.bump() for _ in range(5)] == [1, 2, 3, 4, 5]
        assert gen.current() == 5

    def test_generation_names_are_independent(self) -> None:
        store = self.open_store()
        store.generation("a").bump()
        store.generation("a").bump()
        store.generation("b").bump()
        assert store.generation("a").current() == 2
        assert store.generation("b").current() == 1
        assert store.generation("c").current() == 0

    def test_generation_handles_share_state(self) -> None:
        store = self.open_store()
        store.generation("report").bump()
        assert store.generation("report").current() == 1

    def test_generation_advance_forward(self) -> None:
        gen = self.open_store().generation("report")
        assert gen.advance_to(10) == 10
        assert gen.current() == 10
        assert gen.bump() == 11

    def test_generation_advance_to_equal_is_a_noop(self) -> None:
        gen = self.open_store().generation("report")
        assert gen.advance_to(0) == 0
        assert gen.current() == 0
        gen.advance_to(4)
        assert gen.advance_to(4) == 4
        assert gen.current() == 4

    def test_generation_advance_backward_raises_and_changes_nothing(self) -> None:
        gen = self.open_store().generation("report")
        gen.advance_to(7)
        with pytest.raises(NonMonotonicGeneration) as info:
            gen.advance_to(6)
        assert (info.value.name, info.value.current, info.value.requested) == ("report", 7, 6)
        assert gen.current() == 7
        assert gen.bump() == 8

    @pytest.mark.parametrize("value", [-1, 1.5, "3", None, True])
    def test_generation_advance_rejects_bad_values(self, value: object) -> None:
        gen = self.open_store().generation("report")
        gen.bump()
        with pytest.raises(InvalidInput):
            gen.advance_to(value)  # type: ignore[arg-type]
        assert gen.current() == 1

    @pytest.mark.parametrize(
        "name", ["", 5, None, "x" * (MAX_NAME_LENGTH + 1), "a\x00b", "a\ud800", "\udfff"]
    )
    def test_generation_rejects_bad_names(self, name: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.generation(name)  # type: ignore[arg-type]

    def test_generation_longest_name_is_accepted(self) -> None:
        store = self.open_store()
        name = "g" * MAX_NAME_LENGTH
        assert store.generation(name).bump() == 1
        assert store.generation(name).current() == 1

    def test_generation_bumps_exact_under_threads(self) -> None:
        gen = self.open_store().generation("race")
        per_thread = 50
        results = run_threads(THREADS, lambda _: [gen.bump() for _ in range(per_thread)])
        seen = [v for values in results for v in values]
        # Every bump returned a distinct value, and together they cover 1..n exactly.
        assert sorted(seen) == list(range(1, THREADS * per_thread + 1))
        for values in results:
            assert values == sorted(values)
        assert gen.current() == THREADS * per_thread

    def test_generation_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        first.generation("report").advance_to(41)
        first.generation("report").bump()
        first.close()
        again = self.open_store()
        assert again.generation("report").current() == 42
        assert again.generation("report").bump() == 43

    def test_generation_bumps_exact_across_stores(self) -> None:
        self.require_persistent()
        stores = [self.open_store() for _ in range(2)]
        per_thread = 25
        run_threads(
            THREADS,
            lambda i: [stores[i % 2].generation("race").bump() for _ in range(per_thread)],
        )
        assert stores[0].generation("race").current() == THREADS * per_thread
        assert stores[1].generation("race").current() == THREADS * per_thread


__all__ = [
    "GenerationContract",
]
