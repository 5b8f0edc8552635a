"""The contract of conditional appends: ``append(..., expect_head=n)`` and
``append_many(..., expect_head=n)`` append only after head ``n``, atomically, under
threads and processes."""

from __future__ import annotations

from typing import ClassVar

import pytest

from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.base import THREADS, ContractBase, run_threads
from agentstore.errors import Conflict, HeadMoved, InvalidInput
from agentstore.handles import WriterLog
from agentstore.types import Entry

ROUNDS = 15
"""Heads the racing tests contend for: each is won by exactly one contender."""


def race(log: WriterLog, tag: str, rounds: int) -> list[int]:
    """Try to append ``tag-k`` after head ``k`` for each k; return the heads won."""
    won: list[int] = []
    for k in range(rounds):
        try:
            log.append(f"{tag}-{k}".encode(), expect_head=k)
        except HeadMoved as exc:
            assert exc.expected == k and exc.actual > k
        else:
            won.append(k)
    return won


class ConditionalAppendContract(ContractBase):
    """expect_head: appends only after the expected head; HeadMoved, writing nothing,
    otherwise; exactly one of many racing contenders wins."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_expect_head_appends_when_the_head_is_there(self) -> None:
        store = self.open_store()
        log = store.log("s", writer="w")
        first = log.append(b"1", expect_head=0)  # 0: the log is empty
        assert (first.seq, first.payload) == (1, b"1")
        batch = log.append_many([b"2", b"3"], expect_head=1)
        assert [e.seq for e in batch] == [2, 3]
        assert batch[0].prev_hash == first.content_hash
        assert log.append(b"4", expect_head=3).seq == 4
        assert [e.payload for e in log.entries()] == [b"1", b"2", b"3", b"4"]
        assert log.verify() == 4

    def test_expect_head_moved_raises_and_writes_nothing(self) -> None:
        store = self.open_store()
        log = store.log("s", writer="w")
        log.append_many([b"1", b"2", b"3"])
        position = store.position()
        for expected in (0, 2, 4):
            with pytest.raises(HeadMoved) as info:
                log.append(b"late", expect_head=expected)
            assert isinstance(info.value, Conflict)
            err = info.value
            assert (err.stream, err.writer, err.expected, err.actual) == ("s", "w", expected, 3)
            assert "head is 3" in str(err)
            with pytest.raises(HeadMoved):
                log.append_many([b"late", b"later"], expect_head=expected)
        assert [e.payload for e in log.entries()] == [b"1", b"2", b"3"]
        assert store.position() == position
        other = store.log("s", writer="other")
        with pytest.raises(HeadMoved) as info:
            other.append(b"x", expect_head=1)
        assert info.value.actual == 0
        assert other.head() is None

    def test_expect_head_retry_after_success_is_refused(self) -> None:
        # The caller who lost the answer to an append retries it: stored once.
        store = self.open_store()
        log = store.log("conv", writer="agent")
        log.append(b"turn 1")
        entry = log.append(b"turn 2", expect_head=1)
        with pytest.raises(HeadMoved) as info:
            log.append(b"turn 2", expect_head=1)
        assert info.value.actual == entry.seq == 2
        assert [e.payload for e in log.entries()] == [b"turn 1", b"turn 2"]

    def test_expect_head_with_an_empty_batch_checks_the_head(self) -> None:
        store = self.open_store()
        log = store.log("s", writer="w")
        assert log.append_many([], expect_head=0) == []
        log.append(b"1")
        assert log.append_many([], expect_head=1) == []
        with pytest.raises(HeadMoved) as info:
            log.append_many([], expect_head=0)
        assert info.value.actual == 1
        assert [e.seq for e in log.entries()] == [1]

    def test_expect_head_rejects_bad_values(self) -> None:
        store = self.open_store()
        log = store.log("s", writer="w")
        for bad in (-1, 1.0, "0", True):
            with pytest.raises(InvalidInput):
                log.append(b"x", expect_head=bad)  # type: ignore[arg-type]
            with pytest.raises(InvalidInput):
                log.append_many([b"x"], expect_head=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            log.append("text", expect_head=0)  # type: ignore[arg-type]
        assert log.head() is None

    def test_expect_head_race_under_threads(self) -> None:
        store = self.open_store()
        won = run_threads(THREADS, lambda i: race(store.log("race", writer="w"), f"t{i}", ROUNDS))
        self._check_heads_won(list(store.log("race", writer="w").entries()), won, "t")

    def test_expect_head_race_across_processes(self) -> None:
        self.require_persistent()
        script = (
            "import time\n"
            "from agentstore.conformance.contracts.conditional import race\n"
            "tag, rounds, start = ARGS\n"
            "log = store.log('race', writer='w')\n"
            "time.sleep(max(0.0, float(start) - time.time()))  # start together\n"
            "print('won', *race(log, tag, int(rounds)))\n"
        )
        import time

        start = time.time() + 2.0
        outputs = self.run_children(script, [[f"p{p}", str(ROUNDS), str(start)] for p in range(4)])
        won = []
        for out in outputs:
            line = [ln for ln in out.splitlines() if ln.startswith("won")][-1]
            won.append([int(k) for k in line.split()[1:]])
        store = self.open_store()
        self._check_heads_won(list(store.log("race", writer="w").entries()), won, "p")

    def _check_heads_won(self, entries: list[Entry], won: list[list[int]], prefix: str) -> None:
        assert [e.seq for e in entries] == list(range(1, ROUNDS + 1))
        assert sorted(k for ks in won for k in ks) == list(range(ROUNDS))  # one winner each
        for i, heads in enumerate(won):
            for k in heads:  # what the winner of head k appended is entry k + 1
                assert entries[k].payload == f"{prefix}{i}-{k}".encode()


__all__ = ["ROUNDS", "ConditionalAppendContract", "race"]
