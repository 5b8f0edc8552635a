"""The contract of the commit feed: positions, ``store.feed()``, ``store.position()``,
``store.follow()``, the doorbell's positions and ``store.stream(name).entries()``.

A driver that gives no positions fails every test here with Unsupported.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from typing import ClassVar

import pytest

from agentstore.audit import AUDIT_STREAM, AUDIT_WRITER
from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.base import THREADS, ContractBase, run_threads
from agentstore.errors import InvalidInput
from agentstore.store import Store
from agentstore.types import AuditEntry, CommitEvent, Entry


def event_of(entry: Entry) -> CommitEvent:
    return CommitEvent(entry.stream, entry.writer, entry.seq, entry.content_hash, entry.position)


class FeedReader:
    """Reads ``store.feed`` from where it stopped, as a consumer does, until stopped; keeps
    every position received, in order."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            last = 0
            while True:
                stopping = self.stop.is_set()  # read once more after the writers finish
                before = last
                for event in self.store.feed(after=last):
                    self.seen.append(event.position)
                    last = event.position
                if stopping:
                    return
                if last == before:  # nothing new: let the writers run
                    self.stop.wait(0.005)
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> FeedReader:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(120)
        assert not self.thread.is_alive(), "the feed reader did not stop"
        if self.error is not None:
            raise self.error


class FeedContract(ContractBase):
    """Positions: unique, increasing in commit order, read back by feed, position, follow,
    stream views and the doorbell, with no late gaps under threads and processes."""

    capability: ClassVar[CapabilityName | None] = "logs"

    # -- positions and the feed ----------------------------------------------------------

    def test_feed_of_an_empty_store(self) -> None:
        store = self.open_store()
        assert store.position() == 0
        assert list(store.feed()) == []
        assert list(store.feed(after=5)) == []

    def test_feed_positions_are_unique_and_increase_in_commit_order(self) -> None:
        store = self.open_store()
        written = [store.log("a", writer="w1").append(b"1")]
        written += store.log("b", writer="w2").append_many([b"2", b"3"])
        written.append(store.log("a", writer="w2").append(b"4"))
        written.append(store.log("a", writer="w1").append(b"5"))
        positions = [e.position for e in written]
        assert all(p > 0 for p in positions)
        assert positions == sorted(set(positions))
        assert list(store.feed()) == [event_of(e) for e in written]
        assert store.position() == positions[-1]
        assert [e.position for e in store.log("a", writer="w1").entries()] == [
            positions[0],
            positions[4],
        ]
        head = store.log("b", writer="w2").head()
        assert head is not None and head.position == positions[2]

    def test_feed_after_and_limit(self) -> None:
        store = self.open_store()
        written = store.log("s", writer="w").append_many([b"%d" % i for i in range(10)])
        events = [event_of(e) for e in written]
        p = [e.position for e in written]
        assert list(store.feed(after=p[3])) == events[4:]
        assert list(store.feed(after=p[3], limit=2)) == events[4:6]
        assert list(store.feed(limit=1)) == events[:1]
        assert list(store.feed(limit=0)) == []
        assert list(store.feed(after=p[-1])) == []
        assert list(store.feed(after=p[4] - 1)) == events[4:]  # `after` need not be a position

    def test_feed_rejects_bad_arguments(self) -> None:
        store = self.open_store()
        for bad in (-1, 1.5, "1", None, True):
            with pytest.raises(InvalidInput):
                store.feed(after=bad)  # type: ignore[arg-type]
        for bad in (-1, 2.0, "3"):
            with pytest.raises(InvalidInput):
                store.feed(limit=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.follow(timeout=0)

    def test_feed_includes_audit_records(self) -> None:
        if "audit" not in self.spec.capabilities or self.policy.driver_for("audit") != (
            self.spec.name
        ):
            pytest.skip("the audit capability is not on this driver")
        store = self.open_store()
        entry = store.log("s", writer="w").append(b"x")
        record = store.audit.emit(AuditEntry("policy.update"))
        last = list(store.feed(after=entry.position))
        assert len(last) == 1
        assert (last[0].stream, last[0].writer, last[0].seq) == (AUDIT_STREAM, AUDIT_WRITER, 1)
        assert last[0].content_hash == record.content_hash
        assert last[0].position > entry.position
        assert store.position() == last[0].position

    def test_feed_streams_in_bounded_memory(self) -> None:
        store = self.open_store()
        log, total, batch = store.log("big", writer="w"), 20_000, 1_000
        for start in range(0, total, batch):
            log.append_many([b"%08d" % i for i in range(start, start + batch)])
        count, last = 0, 0
        tracemalloc.start()
        try:
            for event in store.feed():
                assert event.position > last
                last = event.position
                count += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == total
        # Every event held at once would take well over 100 bytes each; a page does not.
        assert peak < total * 100, f"feed() held {peak} bytes for {total} events"

    def test_feed_is_shared_by_every_store_on_the_storage(self) -> None:
        self.require_persistent()
        first = self.open_store()
        second = self.open_store()
        a = first.log("s", writer="a").append(b"1")
        b = second.log("s", writer="b").append(b"2")
        assert b.position > a.position
        assert list(first.feed()) == list(second.feed()) == [event_of(a), event_of(b)]

    def test_feed_positions_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        written = first.log("s", writer="w").append_many([b"1", b"2"])
        first.close()
        again = self.open_store()
        assert list(again.feed()) == [event_of(e) for e in written]
        later = again.log("s", writer="w").append(b"3")
        assert later.position > written[-1].position
        assert again.position() == later.position

    # -- no late gaps --------------------------------------------------------------------

    def test_feed_no_late_gaps_under_threads(self) -> None:
        store = self.open_store()
        # Another connection reads, where the storage is shared.
        reader_store = self.open_store() if self.support.persistent else store
        per_thread = 25

        def write(i: int) -> list[Entry]:
            log = store.log("gaps", writer=f"w{i % 3}")  # shared logs and racing writers
            out: list[Entry] = []
            for n in range(per_thread):
                if n % 5 == 4:
                    out += log.append_many([b"%d-%d-a" % (i, n), b"%d-%d-b" % (i, n)])
                else:
                    out.append(log.append(b"%d-%d" % (i, n)))
            return out

        with FeedReader(reader_store) as reader:
            results = run_threads(THREADS, write)
        written = sorted(e.position for r in results for e in r)
        # Strictly increasing and complete: nothing arrived after a larger position.
        assert reader.seen == sorted(set(reader.seen))
        assert reader.seen == written
        assert store.position() == written[-1]

    def test_feed_no_late_gaps_across_processes(self) -> None:
        self.require_persistent()
        self.require_cross_process()
        store = self.open_store()
        processes, each = 4, 30
        script = (
            "tag, each = ARGS\n"
            "log = store.log('gaps', writer='w' + tag)\n"
            "shared = store.log('gaps', writer='shared')\n"
            "for i in range(int(each)):\n"
            "    (shared if i % 2 else log).append(f'{tag}-{i}'.encode())\n"
        )
        with FeedReader(store) as reader:
            self.run_children(script, [[str(p), str(each)] for p in range(processes)])
        written = sorted(e.position for e in store.stream("gaps").entries())
        assert len(written) == processes * each
        assert reader.seen == sorted(set(reader.seen))
        assert reader.seen == written

    # -- the doorbell and follow ---------------------------------------------------------

    def test_feed_doorbell_events_carry_positions(self) -> None:
        store = self.open_store()
        rung: list[CommitEvent] = []
        store.doorbell.subscribe(rung.append)
        one = store.log("s", writer="w").append(b"1")
        more = store.log("s", writer="v").append_many([b"2", b"3"])
        assert rung == [event_of(one), *map(event_of, more)]
        assert all(event.position > 0 for event in rung)
        # A subscriber that missed events catches up from the last position it saw.
        assert list(store.feed(after=rung[0].position)) == rung[1:]

    def test_feed_follow_catches_up_then_sees_new_commits(self) -> None:
        store = self.open_store()
        old = store.log("s", writer="w").append_many([b"1", b"2"])
        got: list[CommitEvent] = []
        caught_up = threading.Event()
        failed: list[BaseException] = []

        def consume() -> None:
            try:
                for event in store.follow(after=old[0].position, timeout=5.0):
                    got.append(event)
                    if event.position == old[1].position:
                        caught_up.set()
            except BaseException as exc:
                failed.append(exc)
                caught_up.set()

        follower = threading.Thread(target=consume, daemon=True)
        follower.start()
        assert caught_up.wait(30)
        if failed:
            raise failed[0]
        new = [store.log("s", writer="v").append(b"3"), store.log("s", writer="w").append(b"4")]
        follower.join(60)
        assert not follower.is_alive()
        if failed:
            raise failed[0]
        assert got == [event_of(old[1]), *map(event_of, new)]

    def test_feed_follow_sees_commits_of_another_store(self) -> None:
        self.require_persistent()
        store, other = self.open_store(), self.open_store()
        started = threading.Event()
        got: list[CommitEvent] = []
        failed: list[BaseException] = []

        def consume() -> None:
            started.set()
            try:
                for event in store.follow(timeout=3.0):
                    got.append(event)
            except BaseException as exc:
                failed.append(exc)

        follower = threading.Thread(target=consume, daemon=True)
        follower.start()
        assert started.wait(30)
        time.sleep(0.05)
        entry = other.log("s", writer="elsewhere").append(b"x")  # rings other's doorbell only
        follower.join(60)
        assert not follower.is_alive()
        if failed:
            raise failed[0]
        assert got == [event_of(entry)]

    # -- one stream across writers -------------------------------------------------------

    def test_stream_entries_across_writers_in_position_order(self) -> None:
        store = self.open_store()
        written = [store.log("conv", writer="alice").append(b"hi")]
        store.log("other", writer="alice").append(b"elsewhere")
        written.append(store.log("conv", writer="bob").append(b"hello"))
        written += store.log("conv", writer="alice").append_many([b"how", b"are you"])
        written.append(store.log("conv", writer="carol").append(b"fine"))
        view = store.stream("conv")
        assert view.name == "conv"
        assert list(view.entries()) == written
        assert list(view) == written
        assert list(view.entries(after=written[1].position)) == written[2:]
        assert list(view.entries(after=written[-1].position)) == []
        assert list(store.stream("nobody").entries()) == []

    def test_stream_entries_under_threads(self) -> None:
        store = self.open_store()
        results = run_threads(
            THREADS, lambda i: [store.log("s", writer=f"w{i}").append(b"%d" % n) for n in range(10)]
        )
        entries = list(store.stream("s").entries())
        assert [e.position for e in entries] == sorted(e.position for r in results for e in r)
        for i, mine in enumerate(results):
            assert [e for e in entries if e.writer == f"w{i}"] == mine

    def test_stream_rejects_bad_names_and_positions(self) -> None:
        store = self.open_store()
        for bad in ("", AUDIT_STREAM, 3):
            with pytest.raises(InvalidInput):
                store.stream(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.stream("s").entries(after=-1)


__all__ = ["FeedContract"]
