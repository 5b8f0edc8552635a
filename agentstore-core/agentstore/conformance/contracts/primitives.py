"""The contract of writer logs: chained, contiguous, verifiable, safe under races.

``GenerationContract`` lives in :mod:`.generations` and is re-exported here.
"""

from __future__ import annotations

import random
from typing import ClassVar

import pytest

import agentstore
from agentstore.capabilities import (
    MAX_NAME_LENGTH,
    MAX_PAYLOAD_BYTES,
    CapabilityName,
)
from agentstore.conformance.contracts.base import (
    BAD_PAYLOADS,
    HELLO_WORLD_HASH,
    SECOND_HASH,
    THREADS,
    ContractBase,
    b3,
    run_threads,
)
from agentstore.conformance.contracts.generations import GenerationContract
from agentstore.errors import (
    ChainBroken,
    InvalidInput,
)
from agentstore.store import Store
from agentstore.types import (
    Entry,
)


class WriterLogContract(ContractBase):
    """WriterLog: seq from 1, contiguous, the BLAKE3 chain bytes, batches, verify, races."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_log_empty(self) -> None:
        store = self.open_store()
        log = store.log("conv", writer="alice")
        assert log.head() is None
        assert list(log.entries()) == []
        assert log.verify() == 0
        assert store.logs() == []

    def test_log_genesis_entry(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        entry = log.append(b"hello world")
        genesis = Entry("conv", "alice", 1, b"hello world", None, b3(b"hello world"))
        assert entry == genesis._replace(position=entry.position)
        assert isinstance(entry.payload, bytes)
        assert isinstance(entry.content_hash, bytes)

    def test_log_chain_bytes_known_vector(self) -> None:
        # Pinned literals: if these change, every chain ever written stops verifying.
        log = self.open_store().log("conv", writer="alice")
        first = log.append(b"hello world")
        second = log.append(b"second")
        assert first.content_hash.hex() == HELLO_WORLD_HASH
        assert second.prev_hash is not None
        assert second.prev_hash.hex() == HELLO_WORLD_HASH
        assert second.content_hash.hex() == SECOND_HASH

    def test_log_chain_links(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        payloads = [b"a", b"", b"\x00\xff" * 8, bytes(range(256)), b"last"]
        entries = [log.append(p) for p in payloads]
        prev: bytes | None = None
        for seq, (payload, entry) in enumerate(zip(payloads, entries, strict=True), start=1):
            expected = b3(payload) if prev is None else b3(prev + payload)
            want = Entry("conv", "alice", seq, payload, prev, expected, entry.position)
            assert entry == want
            prev = expected
        assert list(log.entries()) == entries
        assert log.head() == entries[-1]
        assert log.verify() == len(payloads)

    def test_log_bytes_like_payloads_are_stored_as_bytes(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        a = log.append(bytearray(b"from bytearray"))  # type: ignore[arg-type]
        b = log.append(memoryview(b"from memoryview"))  # type: ignore[arg-type]
        assert (a.payload, b.payload) == (b"from bytearray", b"from memoryview")
        stored = list(log.entries())
        assert [type(e.payload) for e in stored] == [bytes, bytes]
        assert [e.payload for e in stored] == [b"from bytearray", b"from memoryview"]

    def test_log_large_payload_round_trips(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
        entry = log.append(payload)
        assert entry.content_hash == b3(payload)
        (stored,) = log.entries()
        assert stored.payload == payload
        assert log.verify() == 1

    def test_log_unicode_names_round_trip(self) -> None:
        store = self.open_store()
        log = store.log("conv:démo/☃", writer="ålice 🙂")
        log.append(b"x")
        (entry,) = log.entries()
        assert (entry.stream, entry.writer) == ("conv:démo/☃", "ålice 🙂")
        assert store.logs() == [("conv:démo/☃", "ålice 🙂")]

    def test_log_seq_is_per_stream_and_writer(self) -> None:
        store = self.open_store()
        a1 = store.log("s1", writer="alice")
        b1 = store.log("s1", writer="bob")
        a2 = store.log("s2", writer="alice")
        assert [a1.append(b"1").seq, a1.append(b"2").seq] == [1, 2]
        assert b1.append(b"1").seq == 1
        assert a2.append(b"1").seq == 1
        assert a1.append(b"3").seq == 3
        # Each log chains on its own: the same first payload gives the same genesis hash.
        assert [e.content_hash for e in b1.entries()] == [b3(b"1")]
        assert [e.content_hash for e in a2.entries()] == [b3(b"1")]
        assert store.logs() == [("s1", "alice"), ("s1", "bob"), ("s2", "alice")]

    def test_logs_are_sorted_by_stream_then_writer(self) -> None:
        # Written in a scrambled order, with names whose order as (stream, writer) pairs
        # differs from that of the joined names ("a:z" > "a b:a", "a:b" > "a\t:x") and
        # from case-folded or UTF-16 order: pairs compare by code point, stream first.
        pairs = [
            ("a", "z"),
            ("a", "b"),
            ("a", "aa"),
            ("a b", "a"),
            ("a\t", "x"),
            ("a:b", "a"),
            ("ab", "a"),
            ("B", "w"),
            ("b", "w"),
            ("é", "w"),
            ("z", "é"),
            ("z", "Z"),
            ("\uffff", "w"),
            ("\U0001f642", "w"),
        ]
        scrambled = pairs[7:] + pairs[:7]
        random.Random(7).shuffle(scrambled)
        assert scrambled != sorted(scrambled)
        store = self.open_store()
        for stream, writer in scrambled:
            store.log(stream, writer=writer).append(b"x")
        store.log(*scrambled[0]).append(b"again")  # the latest write moves nothing
        assert store.logs() == sorted(pairs)

    def test_log_handles_share_state(self) -> None:
        store = self.open_store()
        store.log("conv", writer="alice").append(b"one")
        assert store.log("conv", writer="alice").append(b"two").seq == 2

    def test_log_entries_after(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        entries = log.append_many([b"1", b"2", b"3", b"4"])
        assert list(log.entries(after=0)) == entries
        assert list(log.entries(after=2)) == entries[2:]
        assert list(log.entries(after=4)) == []
        assert list(log.entries(after=99)) == []
        assert list(log) == entries

    def test_log_entries_is_an_iterator(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        log.append_many([b"1", b"2"])
        it = log.entries()
        assert iter(it) is it
        assert next(it).seq == 1
        assert next(it).seq == 2
        with pytest.raises(StopIteration):
            next(it)

    @pytest.mark.parametrize("after", [-1, 1.0, "0", None])
    def test_log_entries_rejects_bad_after(self, after: object) -> None:
        log = self.open_store().log("conv", writer="alice")
        with pytest.raises(InvalidInput):
            log.entries(after=after)  # type: ignore[arg-type]

    def test_log_append_many(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        first = log.append(b"first")
        batch = log.append_many([b"a", b"b", b"c"])
        assert [e.seq for e in batch] == [2, 3, 4]
        assert batch[0].prev_hash == first.content_hash
        assert batch[0].content_hash == b3(first.content_hash + b"a")
        assert batch[1].prev_hash == batch[0].content_hash
        assert batch[2].content_hash == b3(batch[1].content_hash + b"c")
        assert list(log.entries()) == [first, *batch]
        assert log.verify() == 4

    def test_log_append_many_accepts_any_iterable(self) -> None:
        log = self.open_store().log("conv", writer="alice")
        batch = log.append_many(bytes([i]) for i in range(3))
        assert [e.payload for e in batch] == [b"\x00", b"\x01", b"\x02"]

    def test_log_append_many_empty_appends_nothing(self) -> None:
        store = self.open_store()
        log = store.log("conv", writer="alice")
        assert log.append_many([]) == []
        assert log.head() is None
        assert store.logs() == []
        entry = log.append(b"x")
        assert log.append_many(iter(())) == []
        assert log.head() == entry

    def test_log_append_many_with_a_bad_payload_stores_nothing(self) -> None:
        store = self.open_store()
        log = store.log("conv", writer="alice")
        log.append(b"before")
        with pytest.raises(InvalidInput):
            log.append_many([b"ok", "not bytes", b"ok too"])  # type: ignore[list-item]
        assert [e.payload for e in log.entries()] == [b"before"]
        assert log.append(b"after").seq == 2

    @pytest.mark.parametrize("payload", BAD_PAYLOADS)
    def test_log_rejects_non_bytes_and_stores_nothing(self, payload: object) -> None:
        store = self.open_store()
        log = store.log("conv", writer="alice")
        with pytest.raises(InvalidInput):
            log.append(payload)  # type: ignore[arg-type]
        assert log.head() is None
        assert store.logs() == []
        assert log.append(b"ok").seq == 1

    def test_log_rejects_oversized_payload_and_stores_nothing(self) -> None:
        store = self.open_store()
        log = store.log("conv", writer="alice")
        with pytest.raises(InvalidInput, match="limit"):
            log.append(b"\x00" * (MAX_PAYLOAD_BYTES + 1))
        assert log.head() is None

    @pytest.mark.parametrize(
        "name", ["", 3, None, "x" * (MAX_NAME_LENGTH + 1), "a\x00b", "a\ud800", "\udfff"]
    )
    def test_log_rejects_bad_stream_and_writer_names(self, name: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.log(name, writer="alice")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.log("conv", writer=name)  # type: ignore[arg-type]
        assert store.logs() == []

    def test_log_reserved_stream_prefix_is_refused(self) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput, match="reserved"):
            store.log("agentstore:audit", writer="audit")
        with pytest.raises(InvalidInput, match="reserved"):
            store.log("agentstore:anything", writer="w")

    def test_log_concurrent_appends_are_contiguous(self) -> None:
        store = self.open_store()
        per_thread = 25

        def work(i: int) -> list[Entry]:
            log = store.log("race", writer="w")
            return [log.append(f"t{i}-{n}".encode()) for n in range(per_thread)]

        results = run_threads(THREADS, work)
        self._check_race(store.log("race", writer="w"), results, THREADS * per_thread)

    def test_log_concurrent_batches_are_contiguous_and_whole(self) -> None:
        store = self.open_store()
        log = store.log("race", writer="w")
        batches = 5

        def work(i: int) -> list[Entry]:
            out: list[Entry] = []
            for b in range(batches):
                batch = log.append_many([f"t{i}-{b}-{k}".encode() for k in range(3)])
                # A batch is one transaction: its seqs are adjacent, whatever else raced it.
                assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + 3))
                out.extend(batch)
            return out

        results = run_threads(THREADS, work)
        self._check_race(log, results, THREADS * batches * 3)

    def _check_race(self, log: agentstore.WriterLog, results: list[list[Entry]], n: int) -> None:
        returned = [e for entries in results for e in entries]
        assert sorted(e.seq for e in returned) == list(range(1, n + 1))
        for entries in results:  # each thread saw its own appends in increasing seq order
            assert [e.seq for e in entries] == sorted(e.seq for e in entries)
        stored = list(log.entries())
        assert [e.seq for e in stored] == list(range(1, n + 1))
        assert sorted(stored) == sorted(returned)
        assert log.verify() == n

    def test_log_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        written = first.log("conv", writer="alice").append_many([b"one", b"two", b"three"])
        first.close()
        again = self.open_store()
        log = again.log("conv", writer="alice")
        assert list(log.entries()) == written
        assert log.verify() == 3
        fourth = log.append(b"four")
        assert (fourth.seq, fourth.prev_hash) == (4, written[-1].content_hash)
        assert again.logs() == [("conv", "alice")]

    def test_log_appends_from_two_stores_interleave(self) -> None:
        self.require_persistent()
        stores = [self.open_store() for _ in range(2)]
        per_thread = 15

        def work(i: int) -> list[Entry]:
            log = stores[i % 2].log("race", writer="w")
            return [log.append(f"t{i}-{n}".encode()) for n in range(per_thread)]

        results = run_threads(THREADS, work)
        self._check_race(stores[1].log("race", writer="w"), results, THREADS * per_thread)

    def test_log_appends_from_processes_are_contiguous(self) -> None:
        self.require_persistent()
        processes, each = 3, 20
        self.child_appends("race", "w", processes, each)
        log = self.open_store().log("race", writer="w")
        stored = list(log.entries())
        assert [e.seq for e in stored] == list(range(1, processes * each + 1))
        assert sorted(e.payload for e in stored) == sorted(
            f"p{p}-{i}".encode() for p in range(processes) for i in range(each)
        )
        for p in range(processes):  # each process's appends kept their order
            mine = [e.payload for e in stored if e.payload.startswith(f"p{p}-".encode())]
            assert mine == [f"p{p}-{i}".encode() for i in range(each)]
        assert log.verify() == processes * each

    # -- tampering ---------------------------------------------------------------------

    def _tamper_setup(self) -> tuple[Store, list[Entry]]:
        store = self.open_store()
        entries = store.log("conv", writer="alice").append_many([b"e1", b"e2", b"e3", b"e4", b"e5"])
        store.log("conv", writer="bob").append(b"untouched")
        return store, entries

    def _assert_broken_at(self, store: Store, seq: int, *, length: int = 5) -> None:
        if self._refused:  # the database prevented the edit: nothing may have changed
            assert store.log("conv", writer="alice").verify() == length
        else:
            with pytest.raises(ChainBroken) as info:
                store.log("conv", writer="alice").verify()
            assert (info.value.stream, info.value.writer, info.value.seq) == (
                "conv",
                "alice",
                seq,
            )
        assert store.log("conv", writer="bob").verify() == 1

    def test_log_tamper_edited_payload(self) -> None:
        store, e = self._tamper_setup()
        self.tamper(store, "conv", "alice", 3, e[2]._replace(payload=b"forged"))
        self._assert_broken_at(store, 3)

    def test_log_tamper_edited_genesis_payload(self) -> None:
        store, e = self._tamper_setup()
        self.tamper(store, "conv", "alice", 1, e[0]._replace(payload=b"forged"))
        self._assert_broken_at(store, 1)

    def test_log_tamper_deleted_middle_entry(self) -> None:
        store, _ = self._tamper_setup()
        self.tamper(store, "conv", "alice", 3, None)
        self._assert_broken_at(store, 3)

    def test_log_tamper_swapped_entries(self) -> None:
        store, e = self._tamper_setup()
        self.tamper(store, "conv", "alice", 2, e[2]._replace(seq=2))
        self.tamper(store, "conv", "alice", 3, e[1]._replace(seq=3))
        self._assert_broken_at(store, 2)

    def test_log_tamper_edited_prev_hash(self) -> None:
        store, e = self._tamper_setup()
        self.tamper(store, "conv", "alice", 4, e[3]._replace(prev_hash=bytes(32)))
        self._assert_broken_at(store, 4)

    def test_log_tamper_genesis_given_a_prev_hash(self) -> None:
        store, e = self._tamper_setup()
        forged = e[0]._replace(prev_hash=bytes(32), content_hash=b3(bytes(32) + b"e1"))
        self.tamper(store, "conv", "alice", 1, forged)
        self._assert_broken_at(store, 1)

    def test_log_tamper_edited_last_content_hash(self) -> None:
        store, e = self._tamper_setup()
        self.tamper(store, "conv", "alice", 5, e[4]._replace(content_hash=b3(b"other")))
        self._assert_broken_at(store, 5)

    def test_log_tamper_deleted_last_entry(self) -> None:
        # The chain left behind is valid; only the recorded head shows one is missing.
        self.require_tamper_evident()
        store, _ = self._tamper_setup()
        self.tamper(store, "conv", "alice", 5, None)
        self._assert_broken_at(store, 5)
        with pytest.raises(ChainBroken) as info:
            store.log("conv", writer="alice").verify()
        assert "missing" in info.value.detail

    def test_log_tamper_deleted_last_entry_then_appended(self) -> None:
        # An append after the deletion must not hide it: it is refused, or verify still
        # names the deleted entry.
        self.require_tamper_evident()
        store, _ = self._tamper_setup()
        self.tamper(store, "conv", "alice", 5, None)
        log = store.log("conv", writer="alice")
        try:
            log.append(b"after")
        except ChainBroken as exc:
            assert exc.seq == 5
        self._assert_broken_at(store, 5)

    def test_log_tamper_deleted_every_entry(self) -> None:
        # An emptied log is still listed, and its verify names the first missing entry.
        self.require_tamper_evident()
        store, _ = self._tamper_setup()
        for seq in range(5, 0, -1):
            self.tamper(store, "conv", "alice", seq, None)
        if not self._refused:
            assert ("conv", "alice") in store.logs()
        self._assert_broken_at(store, 1)

    def test_log_tamper_rehashed_entry_breaks_the_next_link(self) -> None:
        # A forger who rewrites entry 3 consistently is caught where entry 4 points back.
        store, e = self._tamper_setup()
        forged = e[2]._replace(payload=b"forged", content_hash=b3(e[1].content_hash + b"forged"))
        self.tamper(store, "conv", "alice", 3, forged)
        self._assert_broken_at(store, 4)


__all__ = ["GenerationContract", "WriterLogContract"]
