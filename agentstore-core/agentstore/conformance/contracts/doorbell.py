"""The contract of the commit doorbell."""

from __future__ import annotations

import logging
import threading
from typing import ClassVar

import pytest

from agentstore.capabilities import (
    CapabilityName,
)
from agentstore.conformance.contracts.base import (
    THREADS,
    ContractBase,
    run_threads,
)
from agentstore.errors import (
    InvalidInput,
)
from agentstore.types import (
    CommitEvent,
    Entry,
)


class DoorbellContract(ContractBase):
    """Doorbell: rung after commit only, never with the payload, robust to bad subscribers."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_doorbell_rings_once_per_append_with_no_payload(self) -> None:
        store = self.open_store()
        events: list[CommitEvent] = []
        store.doorbell.subscribe(events.append)
        entry = store.log("conv", writer="alice").append(b"secret payload")
        assert events == [CommitEvent("conv", "alice", 1, entry.content_hash, entry.position)]
        assert CommitEvent._fields == ("stream", "writer", "seq", "content_hash", "position")
        assert all(b"secret payload" not in repr(field).encode() for field in events[0])

    def test_doorbell_rings_for_each_entry_of_a_batch_in_order(self) -> None:
        store = self.open_store()
        events: list[CommitEvent] = []
        store.doorbell.subscribe(events.append)
        batch = store.log("conv", writer="alice").append_many([b"a", b"b", b"c"])
        assert events == [
            CommitEvent("conv", "alice", e.seq, e.content_hash, e.position) for e in batch
        ]

    def test_doorbell_subscriber_reads_the_committed_entry(self) -> None:
        store = self.open_store()
        found: list[Entry] = []

        def reader(event: CommitEvent) -> None:
            log = store.log(event.stream, writer=event.writer)
            found.extend(log.entries(after=event.seq - 1))

        store.doorbell.subscribe(reader)
        entry = store.log("conv", writer="alice").append(b"payload")
        assert found == [entry]

    def test_doorbell_subscriber_reads_from_another_thread(self) -> None:
        # The bell rings with no store lock held: a reader on another thread is not blocked.
        store = self.open_store()
        found: list[Entry | None] = []

        def reader(event: CommitEvent) -> None:
            def read() -> None:
                found.append(store.log(event.stream, writer=event.writer).head())

            t = threading.Thread(target=read, daemon=True)
            t.start()
            t.join(10)
            assert not t.is_alive(), "reading the entry from another thread blocked"

        store.doorbell.subscribe(reader)
        entry = store.log("conv", writer="alice").append(b"payload")
        assert found == [entry]

    def test_doorbell_subscriber_sees_the_commit_from_another_store(self) -> None:
        # Rung after commit: a second connection to the same data already sees the entry.
        self.require_persistent()
        store, other = self.open_store(), self.open_store()
        found: list[Entry | None] = []
        store.doorbell.subscribe(lambda e: found.append(other.log(e.stream, e.writer).head()))
        entry = store.log("conv", writer="alice").append(b"payload")
        assert found == [entry]

    def test_doorbell_failing_subscriber_neither_breaks_nor_starves(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        store = self.open_store()
        before: list[int] = []
        after: list[int] = []

        def broken(event: CommitEvent) -> None:
            raise RuntimeError("subscriber bug")

        store.doorbell.subscribe(lambda e: before.append(e.seq))
        store.doorbell.subscribe(broken)
        store.doorbell.subscribe(lambda e: after.append(e.seq))
        log = store.log("conv", writer="alice")
        with caplog.at_level(logging.ERROR, logger="agentstore.doorbell"):
            assert log.append(b"one").seq == 1
            assert [e.seq for e in log.append_many([b"two", b"three"])] == [2, 3]
        assert before == after == [1, 2, 3]
        assert log.verify() == 3
        # each failure is logged with its traceback, not swallowed
        failures = [
            r
            for r in caplog.records
            if r.name == "agentstore.doorbell"
            and r.levelno >= logging.ERROR
            and r.exc_info is not None
            and isinstance(r.exc_info[1], RuntimeError)
            and str(r.exc_info[1]) == "subscriber bug"
        ]
        assert len(failures) == 3, caplog.text

    def test_doorbell_unsubscribe(self) -> None:
        store = self.open_store()
        kept: list[int] = []
        dropped: list[int] = []
        store.doorbell.subscribe(lambda e: kept.append(e.seq))
        handle = store.doorbell.subscribe(lambda e: dropped.append(e.seq))
        log = store.log("conv", writer="alice")
        log.append(b"one")
        handle.unsubscribe()
        handle.unsubscribe()  # idempotent
        log.append(b"two")
        assert kept == [1, 2]
        assert dropped == [1]

    def test_doorbell_subscription_as_context_manager(self) -> None:
        store = self.open_store()
        seen: list[int] = []
        log = store.log("conv", writer="alice")
        with store.doorbell.subscribe(lambda e: seen.append(e.seq)):
            log.append(b"one")
        log.append(b"two")
        assert seen == [1]

    def test_doorbell_rejected_append_rings_nothing(self) -> None:
        store = self.open_store()
        events: list[CommitEvent] = []
        store.doorbell.subscribe(events.append)
        log = store.log("conv", writer="alice")
        with pytest.raises(InvalidInput):
            log.append("not bytes")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            log.append_many([b"fine", 42])  # type: ignore[list-item]
        assert log.append_many([]) == []
        assert events == []

    def test_doorbell_each_store_has_its_own(self) -> None:
        first, second = self.open_store(), self.open_store()
        events: list[CommitEvent] = []
        first.doorbell.subscribe(events.append)
        second.log("conv", writer="alice").append(b"elsewhere")
        entry = first.log("conv", writer="bob").append(b"here")
        # Only first's own commit is rung locally (cross-process bells are a driver option).
        assert [e for e in events if e.writer == "bob"] == [
            CommitEvent("conv", "bob", entry.seq, entry.content_hash, entry.position)
        ]

    def test_doorbell_rings_exactly_once_per_entry_under_threads(self) -> None:
        store = self.open_store()
        lock = threading.Lock()
        events: list[CommitEvent] = []

        def record(event: CommitEvent) -> None:
            with lock:
                events.append(event)

        store.doorbell.subscribe(record)
        per_thread = 20
        results = run_threads(
            THREADS,
            lambda i: [
                store.log("race", writer="w").append(f"{i}-{n}".encode()) for n in range(per_thread)
            ],
        )
        expected = sorted(
            CommitEvent(e.stream, e.writer, e.seq, e.content_hash, e.position)
            for r in results
            for e in r
        )
        assert sorted(events) == expected
        assert len(expected) == THREADS * per_thread
        position = {event.seq: i for i, event in enumerate(events)}
        for entries in results:  # one thread's appends ring in their seq order
            rung = [position[e.seq] for e in entries]
            assert rung == sorted(rung)


# -- governance stores ----------------------------------------------------------------------


__all__ = [
    "DoorbellContract",
]
