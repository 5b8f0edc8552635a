"""The contract test classes: one per capability, and :class:`AllContracts` for all of them.

Each class holds the tests of one capability of DESIGN.md. A driver author subclasses them
under a ``Test*`` name and supplies the fixture ``agentstore_policy`` (see the package
docstring of :mod:`agentstore.conformance`). The classes themselves are never collected:
their names do not start with ``Test``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

import pytest
from blake3 import blake3

import agentstore
from agentstore.capabilities import (
    AUDIT_STREAM,
    AUDIT_WRITER,
    MAX_NAME_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_SECRET_BYTES,
    CapabilityName,
    LogAuditSink,
)
from agentstore.conformance.support import (
    EPOCH,
    ConformanceSupport,
    FakeClock,
    TamperRefused,
    load_support,
)
from agentstore.errors import (
    ChainBroken,
    InvalidInput,
    NonMonotonicGeneration,
    NotFound,
    StoreError,
)
from agentstore.policy import StorePolicy
from agentstore.registry import DriverSpec, Registry, default_registry
from agentstore.store import Store
from agentstore.types import (
    AgentId,
    AgentInfo,
    AuditEntry,
    AuditRecord,
    CommitEvent,
    Entry,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

T = TypeVar("T")

THREADS = 8
"""How many threads the concurrency tests race."""

HELLO_WORLD_HASH = "d74981efa70a0c880b8d8c1985d075dbcbf679b99a5f9914e5aaf96b831a9e24"
"""BLAKE3(b"hello world"): the genesis hash of a log whose first payload is b"hello world"."""
SECOND_HASH = "6c3cf60fc6ef27210eac15152ee2d13e044dc6c878dd090e81df22e7b22e4cef"
"""BLAKE3(HELLO_WORLD_HASH bytes || b"second"): the hash of the entry after it."""

BAD_PAYLOADS: tuple[object, ...] = ("text", 7, None, [1, 2], 1.5)
"""Payloads a log must refuse with InvalidInput (it takes bytes only)."""


def b3(data: bytes) -> bytes:
    return blake3(data).digest()


def run_threads(count: int, target: Callable[[int], T], timeout: float = 60.0) -> list[T]:
    """Run ``target(i)`` for i in range(count) on as many threads, released together.

    Returns the results in index order; re-raises the first exception; fails (rather
    than hangs) when a thread does not finish within ``timeout``.
    """
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout)
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if any(t.is_alive() for t in threads):
        pytest.fail(f"a thread did not finish within {timeout} s (deadlock?)")
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]


def capability_of(cls: type, test_name: str) -> CapabilityName | None:
    """The capability test ``test_name`` of ``cls`` needs: that of the contract defining it.

    A subclass overriding a contract test keeps its capability; a test a subclass adds
    itself needs none.
    """
    for klass in cls.__mro__:
        if test_name in vars(klass) and "capability" in vars(klass):
            cap: CapabilityName | None = vars(klass)["capability"]
            return cap
    return None


class ContractBase:
    """What every contract class shares: opening stores, capability checks, clean-up.

    Class attributes a subclass may set:
        registry: the driver registry to open stores with (default: the installed drivers).
        conformance: overrides the driver's own :class:`ConformanceSupport`.

    Within a test, :attr:`policy` is the fixture's policy, :attr:`clock` a
    :class:`FakeClock` every store opened with :meth:`open_store` uses, :attr:`spec`
    the driver under test (the policy's ``backend``) and :attr:`support` its support.
    """

    capability: ClassVar[CapabilityName | None] = None
    registry: ClassVar[Registry | None] = None
    conformance: ClassVar[ConformanceSupport | None] = None
    CHILD_TIMEOUT: ClassVar[float] = 120.0
    """Seconds :meth:`child_appends` waits for each child process."""

    policy: StorePolicy
    clock: FakeClock
    spec: DriverSpec
    support: ConformanceSupport
    _stores: list[Store]
    _refused: list[str]

    @pytest.fixture(autouse=True)
    def _agentstore_contract(
        self, request: pytest.FixtureRequest, agentstore_policy: StorePolicy
    ) -> Iterator[None]:
        if not isinstance(agentstore_policy, StorePolicy):
            pytest.fail(
                "the agentstore_policy fixture must return an agentstore.StorePolicy, "
                f"not {type(agentstore_policy).__name__}"
            )
        self.policy = agentstore_policy
        self.spec = (self.registry or default_registry()).get(agentstore_policy.backend)
        self.support = self.conformance or load_support(self.spec)
        cap = capability_of(type(self), request.function.__name__)
        if cap is not None:
            if cap not in self.spec.capabilities:
                pytest.skip(f"driver {self.spec.name!r} does not declare capability {cap!r}")
            routed = agentstore_policy.driver_for(cap)
            if routed != self.spec.name:
                pytest.skip(f"the policy routes capability {cap!r} to {routed!r}")
        self.clock = FakeClock()
        self._stores = []
        self._refused = []
        try:
            yield
        finally:
            for store in self._stores:
                store.close()

    # -- helpers for tests -------------------------------------------------------------

    def open_store(self) -> Store:
        """Open a store from the policy with the test's clock; closed after the test."""
        store = agentstore.open(self.policy, registry=self.registry, clock=self.clock)
        self._stores.append(store)
        return store

    def require_persistent(self) -> None:
        """Skip the test unless the driver declares that its data persists."""
        if not self.support.persistent:
            pytest.skip(
                f"driver {self.spec.name!r} declares it is not persistent "
                "(ConformanceSupport.persistent is False)"
            )

    def tamper(self, store: Store, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        """Overwrite (``entry``) or delete (None) the stored entry at ``seq``, unchecked.

        Skips the test when the driver offers no way to tamper (see ConformanceSupport).
        An edit the database refuses (:class:`TamperRefused`) is recorded in
        ``self._refused``: the chain must then verify unchanged.
        """
        if self.support.tamper is not None:
            try:
                self.support.tamper(store, stream, writer, seq, entry)
            except NotImplementedError as exc:
                pytest.skip(f"driver {self.spec.name!r} cannot tamper with this chain: {exc}")
            except TamperRefused as exc:
                self._refused.append(str(exc))
            return
        target: object = None
        if (stream, writer) == (AUDIT_STREAM, AUDIT_WRITER):
            audit = store.audit
            if isinstance(audit, LogAuditSink):
                target = audit._logs
        else:
            target = store._cap("logs")
        fn = getattr(target, "tamper", None)
        if not callable(fn):
            pytest.skip(
                f"driver {self.spec.name!r} offers no tamper hook "
                "(ConformanceSupport.tamper or a tamper() method on its log store)"
            )
        try:
            fn(stream, writer, seq, entry)
        except NotImplementedError as exc:
            pytest.skip(f"driver {self.spec.name!r} cannot tamper with this chain: {exc}")
        except TamperRefused as exc:
            self._refused.append(str(exc))

    def child_appends(self, stream: str, writer: str, processes: int, each: int) -> None:
        """Append from ``processes`` separate Python processes at once, ``each`` per process.

        Payloads are ``b"p<process>-<i>"``. Fails with the children's output if one fails.
        """
        if self.spec.distribution is None:
            pytest.skip("a driver registered in-process cannot be opened by another process")
        script = (
            "import pathlib, sys, agentstore\n"
            "policy_file, source, stream, writer, tag, each = sys.argv[1:7]\n"
            "text = pathlib.Path(policy_file).read_text(encoding='utf-8')\n"
            "policy = agentstore.StorePolicy.loads(text, source=source or None)\n"
            "with agentstore.open(policy) as store:\n"
            "    log = store.log(stream, writer=writer)\n"
            "    for i in range(int(each)):\n"
            "        log.append(f'p{tag}-{i}'.encode())\n"
        )
        # The policy may hold secrets: hand it over in a file only its owner can read
        # (mkstemp makes it 0600), never on argv, where `ps` shows it to every user.
        fd, policy_file = tempfile.mkstemp(prefix="agentstore-policy-", suffix=".toml")
        children: list[subprocess.Popen[bytes]] = []
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.policy.dumps())
            args = [policy_file, self.policy.source or "", stream, writer]
            for p in range(processes):
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-c", script, *args, str(p), str(each)],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        env=os.environ.copy(),
                    )
                )
            for child in children:
                out, _ = child.communicate(timeout=self.CHILD_TIMEOUT)
                assert child.returncode == 0, out.decode(errors="replace")
        finally:
            for child in children:  # after a timeout or failure, leave none running
                if child.poll() is None:
                    child.kill()
                child.communicate()
            os.unlink(policy_file)


# -- causal primitives ----------------------------------------------------------------------


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

    @pytest.mark.parametrize("name", ["", 5, None, "x" * (MAX_NAME_LENGTH + 1), "a\x00b"])
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
        assert entry == Entry("conv", "alice", 1, b"hello world", None, b3(b"hello world"))
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
            assert entry == Entry("conv", "alice", seq, payload, prev, expected)
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

    @pytest.mark.parametrize("name", ["", 3, None, "x" * (MAX_NAME_LENGTH + 1), "a\x00b"])
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
        store, _ = self._tamper_setup()
        self.tamper(store, "conv", "alice", 5, None)
        self._assert_broken_at(store, 5)
        with pytest.raises(ChainBroken) as info:
            store.log("conv", writer="alice").verify()
        assert "missing" in info.value.detail

    def test_log_tamper_deleted_last_entry_then_appended(self) -> None:
        # An append after the deletion must not hide it: it is refused, or verify still
        # names the deleted entry.
        store, _ = self._tamper_setup()
        self.tamper(store, "conv", "alice", 5, None)
        log = store.log("conv", writer="alice")
        try:
            log.append(b"after")
        except ChainBroken as exc:
            assert exc.seq == 5
        self._assert_broken_at(store, 5)

    def test_log_tamper_rehashed_entry_breaks_the_next_link(self) -> None:
        # A forger who rewrites entry 3 consistently is caught where entry 4 points back.
        store, e = self._tamper_setup()
        forged = e[2]._replace(payload=b"forged", content_hash=b3(e[1].content_hash + b"forged"))
        self.tamper(store, "conv", "alice", 3, forged)
        self._assert_broken_at(store, 4)


class DoorbellContract(ContractBase):
    """Doorbell: rung after commit only, never with the payload, robust to bad subscribers."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_doorbell_rings_once_per_append_with_no_payload(self) -> None:
        store = self.open_store()
        events: list[CommitEvent] = []
        store.doorbell.subscribe(events.append)
        entry = store.log("conv", writer="alice").append(b"secret payload")
        assert events == [CommitEvent("conv", "alice", 1, entry.content_hash)]
        assert CommitEvent._fields == ("stream", "writer", "seq", "content_hash")
        assert all(b"secret payload" not in repr(field).encode() for field in events[0])

    def test_doorbell_rings_for_each_entry_of_a_batch_in_order(self) -> None:
        store = self.open_store()
        events: list[CommitEvent] = []
        store.doorbell.subscribe(events.append)
        batch = store.log("conv", writer="alice").append_many([b"a", b"b", b"c"])
        assert events == [CommitEvent("conv", "alice", e.seq, e.content_hash) for e in batch]

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
            CommitEvent("conv", "bob", entry.seq, entry.content_hash)
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
            CommitEvent(e.stream, e.writer, e.seq, e.content_hash) for r in results for e in r
        )
        assert sorted(events) == expected
        assert len(expected) == THREADS * per_thread
        position = {event.seq: i for i, event in enumerate(events)}
        for entries in results:  # one thread's appends ring in their seq order
            rung = [position[e.seq] for e in entries]
            assert rung == sorted(rung)


# -- governance stores ----------------------------------------------------------------------


class PolicyStoreContract(ContractBase):
    """PolicyStore: put overwrites, get raises NotFound when absent, invalidate idempotent."""

    capability: ClassVar[CapabilityName | None] = "policies"

    DOC: ClassVar[dict[str, object]] = {
        "allow": ["read", "write"],
        "limits": {"tokens": 1000, "ratio": 0.25, "strict": True, "note": None},
        "name": "naïve ☃",
    }

    def test_policy_get_absent_raises_not_found(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        with pytest.raises(NotFound) as info:
            store.policies.get(agent)
        assert str(agent) in str(info.value)
        assert isinstance(info.value, KeyError)

    def test_policy_put_then_get(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        doc = PolicyDocument(self.DOC)  # type: ignore[arg-type]
        store.policies.put(agent, doc)
        got = store.policies.get(agent)
        assert got == doc
        assert got.body == self.DOC

    def test_policy_put_overwrites(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.put(agent, PolicyDocument({"v": 1}))
        store.policies.put(agent, PolicyDocument({"v": 2}))
        assert store.policies.get(agent) == PolicyDocument({"v": 2})

    def test_policy_agents_are_independent(self) -> None:
        store = self.open_store()
        a, b = AgentId.new(), AgentId.new()
        store.policies.put(a, PolicyDocument({"who": "a"}))
        store.policies.put(b, PolicyDocument({"who": "b"}))
        store.policies.invalidate(a)
        assert store.policies.get(b) == PolicyDocument({"who": "b"})
        with pytest.raises(NotFound):
            store.policies.get(a)

    def test_policy_invalidate_is_idempotent(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.invalidate(agent)  # never stored: not an error
        store.policies.put(agent, PolicyDocument({"v": 1}))
        store.policies.invalidate(agent)
        store.policies.invalidate(agent)
        with pytest.raises(NotFound):
            store.policies.get(agent)
        store.policies.put(agent, PolicyDocument({"v": 3}))
        assert store.policies.get(agent) == PolicyDocument({"v": 3})

    def test_policy_empty_document(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.put(agent, PolicyDocument())
        assert store.policies.get(agent) == PolicyDocument({})

    @pytest.mark.parametrize("bad", ["not an agent", None, uuid.uuid4(), SessionId.new()])
    def test_policy_rejects_bad_agent_ids(self, bad: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.policies.put(bad, PolicyDocument({"v": 1}))  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.policies.get(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.policies.invalidate(bad)  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", [{"v": 1}, None, b"{}", "{}"])
    def test_policy_rejects_non_documents_and_stores_nothing(self, bad: object) -> None:
        store = self.open_store()
        agent = AgentId.new()
        with pytest.raises(InvalidInput):
            store.policies.put(agent, bad)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            store.policies.get(agent)

    def test_policy_persists_across_reopen(self) -> None:
        self.require_persistent()
        agent = AgentId.new()
        first = self.open_store()
        first.policies.put(agent, PolicyDocument({"v": 1}))
        first.close()
        assert self.open_store().policies.get(agent) == PolicyDocument({"v": 1})


class AuditSinkContract(ContractBase):
    """AuditSink: append-only, hash-chained over each entry's canonical JSON, verifiable."""

    capability: ClassVar[CapabilityName | None] = "audit"

    def test_audit_empty(self) -> None:
        store = self.open_store()
        assert list(store.audit.records()) == []
        assert store.audit.verify() == 0

    def test_audit_emit_chains(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        first = AuditEntry("policy.update", agent, {"version": 2})
        second = AuditEntry("session.start")
        r1 = store.audit.emit(first)
        r2 = store.audit.emit(second)
        h1 = b3(first.to_json())
        assert r1 == AuditRecord(1, first, None, h1)
        assert r2 == AuditRecord(2, second, h1, b3(h1 + second.to_json()))
        assert list(store.audit.records()) == [r1, r2]
        assert list(store.audit.records(after=1)) == [r2]
        assert list(store.audit.records(after=2)) == []
        assert store.audit.verify() == 2

    def test_audit_entries_round_trip(self) -> None:
        store = self.open_store()
        entry = AuditEntry(
            "credential.rotate", AgentId.new(), {"names": ["a", "ü"], "n": 3, "ok": False}
        )
        store.audit.emit(entry)
        (record,) = store.audit.records()
        assert record.entry == entry
        assert record.entry.agent_id == entry.agent_id

    def test_audit_records_is_an_iterator(self) -> None:
        store = self.open_store()
        store.audit.emit(AuditEntry("a"))
        it = store.audit.records()
        assert iter(it) is it
        assert next(it).seq == 1

    @pytest.mark.parametrize("entry", ["text", {"action": "x"}, None, b"x"])
    def test_audit_rejects_bad_input_and_stores_nothing(self, entry: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.audit.emit(entry)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.audit.records(after=-1)
        assert list(store.audit.records()) == []
        assert store.audit.emit(AuditEntry("ok")).seq == 1

    def test_audit_concurrent_emits_are_contiguous(self) -> None:
        store = self.open_store()
        per_thread = 10
        results = run_threads(
            THREADS,
            lambda i: [
                store.audit.emit(AuditEntry("race", detail={"t": i, "n": n}))
                for n in range(per_thread)
            ],
        )
        n = THREADS * per_thread
        assert sorted(r.seq for rs in results for r in rs) == list(range(1, n + 1))
        stored = list(store.audit.records())
        assert [r.seq for r in stored] == list(range(1, n + 1))
        assert store.audit.verify() == n

    def test_audit_tamper_edited_entry(self) -> None:
        store = self.open_store()
        records = [store.audit.emit(AuditEntry("a", detail={"n": n})) for n in range(3)]
        forged = AuditEntry("a", detail={"n": 99}).to_json()
        r = records[1]
        entry = Entry(AUDIT_STREAM, AUDIT_WRITER, 2, forged, r.prev_hash, r.content_hash)
        self.tamper(store, AUDIT_STREAM, AUDIT_WRITER, 2, entry)
        with pytest.raises(ChainBroken) as info:
            store.audit.verify()
        assert info.value.seq == 2

    def test_audit_tamper_deleted_entry(self) -> None:
        store = self.open_store()
        for n in range(3):
            store.audit.emit(AuditEntry("a", detail={"n": n}))
        self.tamper(store, AUDIT_STREAM, AUDIT_WRITER, 2, None)
        with pytest.raises(ChainBroken) as info:
            store.audit.verify()
        assert info.value.seq == 2

    def test_audit_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        written = [first.audit.emit(AuditEntry("a", detail={"n": n})) for n in range(3)]
        first.close()
        again = self.open_store()
        assert list(again.audit.records()) == written
        assert again.audit.emit(AuditEntry("b")).prev_hash == written[-1].content_hash
        assert again.audit.verify() == 4


class SessionStoreContract(ContractBase):
    """SessionStore: save overwrites, load raises NotFound when absent, delete idempotent."""

    capability: ClassVar[CapabilityName | None] = "sessions"

    def test_session_load_absent_raises_not_found(self) -> None:
        store = self.open_store()
        sid = SessionId.new()
        with pytest.raises(NotFound) as info:
            store.sessions.load(sid)
        assert str(sid) in str(info.value)

    def test_session_save_then_load(self) -> None:
        store = self.open_store()
        record = SessionRecord(
            SessionId.new(), AgentId.new(), {"turns": [1, 2], "model": "m", "t": 0.5}
        )
        store.sessions.save(record)
        assert store.sessions.load(record.session_id) == record

    def test_session_save_overwrites(self) -> None:
        store = self.open_store()
        sid, agent = SessionId.new(), AgentId.new()
        store.sessions.save(SessionRecord(sid, agent, {"v": 1}))
        other_agent = AgentId.new()
        store.sessions.save(SessionRecord(sid, other_agent, {"v": 2}))
        assert store.sessions.load(sid) == SessionRecord(sid, other_agent, {"v": 2})

    def test_session_delete_is_idempotent(self) -> None:
        store = self.open_store()
        keep = SessionRecord(SessionId.new(), AgentId.new())
        gone = SessionRecord(SessionId.new(), AgentId.new())
        store.sessions.delete(gone.session_id)  # never stored: not an error
        store.sessions.save(keep)
        store.sessions.save(gone)
        store.sessions.delete(gone.session_id)
        store.sessions.delete(gone.session_id)
        with pytest.raises(NotFound):
            store.sessions.load(gone.session_id)
        assert store.sessions.load(keep.session_id) == keep

    @pytest.mark.parametrize("bad", ["a session", None, {"session_id": "x"}])
    def test_session_rejects_bad_input(self, bad: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.sessions.save(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.sessions.load(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.sessions.delete(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.sessions.load(AgentId.new())  # type: ignore[arg-type]

    def test_session_persists_across_reopen(self) -> None:
        self.require_persistent()
        record = SessionRecord(SessionId.new(), AgentId.new(), {"v": 1})
        first = self.open_store()
        first.sessions.save(record)
        first.close()
        assert self.open_store().sessions.load(record.session_id) == record


class CredentialStoreContract(ContractBase):
    """CredentialStore: bytes in, bytes out; overwrite; NotFound; never shown anywhere."""

    capability: ClassVar[CapabilityName | None] = "credentials"

    SECRET: ClassVar[bytes] = b"s3cr3t-\x00\xff-value-7f1c"

    def test_credential_get_absent_raises_not_found(self) -> None:
        store = self.open_store()
        with pytest.raises(NotFound) as info:
            store.credentials.get_secret("api-key")
        assert "api-key" in str(info.value)

    def test_credential_put_then_get(self) -> None:
        store = self.open_store()
        store.credentials.put_secret("api-key", self.SECRET)
        value = store.credentials.get_secret("api-key")
        assert value == self.SECRET
        assert type(value) is bytes

    def test_credential_bytes_like_values_are_stored_as_bytes(self) -> None:
        store = self.open_store()
        store.credentials.put_secret("a", bytearray(b"one"))  # type: ignore[arg-type]
        store.credentials.put_secret("b", memoryview(b"two"))  # type: ignore[arg-type]
        store.credentials.put_secret("empty", b"")
        assert store.credentials.get_secret("a") == b"one"
        assert type(store.credentials.get_secret("b")) is bytes
        assert store.credentials.get_secret("empty") == b""

    def test_credential_put_overwrites(self) -> None:
        store = self.open_store()
        store.credentials.put_secret("api-key", b"old")
        store.credentials.put_secret("api-key", b"new")
        assert store.credentials.get_secret("api-key") == b"new"

    def test_credential_delete_is_idempotent(self) -> None:
        store = self.open_store()
        store.credentials.delete_secret("never-stored")
        store.credentials.put_secret("keep", b"k")
        store.credentials.put_secret("gone", b"g")
        store.credentials.delete_secret("gone")
        store.credentials.delete_secret("gone")
        with pytest.raises(NotFound):
            store.credentials.get_secret("gone")
        assert store.credentials.get_secret("keep") == b"k"

    def test_credential_largest_value(self) -> None:
        store = self.open_store()
        value = bytes(range(256)) * (MAX_SECRET_BYTES // 256)
        store.credentials.put_secret("big", value)
        assert store.credentials.get_secret("big") == value

    @pytest.mark.parametrize("value", ["s3cr3t-as-text", 987654321, ["s3cr3t"], None])
    def test_credential_rejects_non_bytes_without_echoing_it(self, value: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput) as info:
            store.credentials.put_secret("api-key", value)  # type: ignore[arg-type]
        for text in (str(info.value), repr(info.value)):
            assert "s3cr3t" not in text
            assert "987654321" not in text
        with pytest.raises(NotFound):
            store.credentials.get_secret("api-key")

    def test_credential_rejects_oversized_value_and_stores_nothing(self) -> None:
        store = self.open_store()
        value = b"Z" * (MAX_SECRET_BYTES + 1)
        with pytest.raises(InvalidInput) as info:
            store.credentials.put_secret("api-key", value)
        assert "ZZZZ" not in str(info.value)
        with pytest.raises(NotFound):
            store.credentials.get_secret("api-key")

    @pytest.mark.parametrize("name", ["", 7, None, "x" * (MAX_NAME_LENGTH + 1)])
    def test_credential_rejects_bad_names(self, name: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.credentials.put_secret(name, b"v")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.credentials.get_secret(name)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.credentials.delete_secret(name)  # type: ignore[arg-type]

    def test_credential_value_never_shown(self, caplog: pytest.LogCaptureFixture) -> None:
        marker = self.SECRET.decode("latin-1")
        with caplog.at_level(logging.DEBUG):
            store = self.open_store()
            creds = store.credentials
            creds.put_secret("api-key", self.SECRET)
            creds.put_secret("api-key", self.SECRET)
            assert creds.get_secret("api-key") == self.SECRET
            with pytest.raises(NotFound) as info:
                creds.get_secret("other")
            shown = [repr(store), str(store), repr(creds), str(creds), str(info.value)]
            shown += [repr(info.value), repr(store.policy), str(store.policy)]
            creds.delete_secret("api-key")
            store.close()
        shown += [r.getMessage() for r in caplog.records]
        for text in shown:
            assert marker not in text
            assert "s3cr3t" not in text
            assert repr(self.SECRET) not in text

    def test_credential_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        first.credentials.put_secret("api-key", self.SECRET)
        first.close()
        assert self.open_store().credentials.get_secret("api-key") == self.SECRET


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

    @pytest.mark.parametrize("amount", [0, -1, 1.5, "1", True, None])
    def test_rate_limit_rejects_bad_amount(self, amount: object) -> None:
        rl = self.open_store().rate_limits
        rl.increment("k")
        with pytest.raises(InvalidInput):
            rl.increment("k", amount)  # type: ignore[arg-type]
        assert rl.current("k") == 1

    @pytest.mark.parametrize("window", [0, -5, float("nan"), float("inf"), "60", True, None])
    def test_rate_limit_rejects_bad_window(self, window: object) -> None:
        rl = self.open_store().rate_limits
        with pytest.raises(InvalidInput):
            rl.increment("k", 1, window)  # type: ignore[arg-type]
        assert rl.current("k") == 0

    @pytest.mark.parametrize("key", ["", 1, None, "k" * (MAX_NAME_LENGTH + 1)])
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


class StoreContract(ContractBase):
    """The store's lifetime, whatever capabilities the driver declares."""

    capability: ClassVar[CapabilityName | None] = None

    def test_use_after_close_raises(self) -> None:
        store = self.open_store()
        uses: dict[str, Callable[[], object]] = {
            "generation": lambda: store.generation("g"),
            "log": lambda: store.log("s", writer="w"),
            "logs": store.logs,
            "policies": lambda: store.policies,
            "audit": lambda: store.audit,
            "sessions": lambda: store.sessions,
            "credentials": lambda: store.credentials,
            "rate_limits": lambda: store.rate_limits,
            "lifecycle": lambda: store.lifecycle,
        }
        for use in uses.values():
            use()
        store.close()
        for name, use in uses.items():
            with pytest.raises(StoreError, match="store is closed"):
                use()
                pytest.fail(f"store.{name} worked on a closed store")
        store.close()  # closing again is harmless

    def test_handles_obtained_before_close_refuse_after_it(self) -> None:
        store = self.open_store()
        caps = self.spec.capabilities
        agent = AgentId.new()
        calls: dict[str, Callable[[], object]] = {}
        if "generations" in caps:
            generation = store.generation("g")
            calls["Generation.bump"] = generation.bump
            calls["Generation.current"] = generation.current
        if "logs" in caps:
            log = store.log("s", writer="w")
            log.append(b"before")
            calls["WriterLog.append"] = lambda: log.append(b"after")
            calls["WriterLog.entries"] = lambda: list(log.entries())
            calls["WriterLog.head"] = log.head
            calls["WriterLog.verify"] = log.verify
        if "policies" in caps:
            policies = store.policies
            calls["PolicyStore.get"] = lambda: policies.get(agent)
        if "audit" in caps:
            audit = store.audit
            calls["AuditSink.verify"] = audit.verify
        if "sessions" in caps:
            sessions = store.sessions
            calls["SessionStore.load"] = lambda: sessions.load(SessionId.new())
            calls["SessionStore.delete"] = lambda: sessions.delete(SessionId.new())
        if "credentials" in caps:
            credentials = store.credentials
            calls["CredentialStore.get_secret"] = lambda: credentials.get_secret("k")
        if "rate_limits" in caps:
            limits = store.rate_limits
            calls["RateLimitCounter.increment"] = lambda: limits.increment("k", 1, 60.0)
        if "lifecycle" in caps:
            lifecycle = store.lifecycle
            calls["LifecycleStore.register"] = lambda: lifecycle.register(agent)
        store.close()
        for name, call in calls.items():
            with pytest.raises(StoreError, match="closed"):
                call()
                pytest.fail(f"{name} worked after the store was closed")


class AllContracts(
    StoreContract,
    GenerationContract,
    WriterLogContract,
    DoorbellContract,
    PolicyStoreContract,
    AuditSinkContract,
    SessionStoreContract,
    CredentialStoreContract,
    RateLimitContract,
    LifecycleContract,
):
    """Every contract at once; each test still skips a capability the driver lacks."""


CONTRACTS: tuple[type[ContractBase], ...] = AllContracts.__bases__
"""Each contract class, in the order AllContracts combines them."""


__all__ = [
    "CONTRACTS",
    "HELLO_WORLD_HASH",
    "SECOND_HASH",
    "THREADS",
    "AllContracts",
    "AuditSinkContract",
    "ContractBase",
    "CredentialStoreContract",
    "DoorbellContract",
    "GenerationContract",
    "LifecycleContract",
    "PolicyStoreContract",
    "RateLimitContract",
    "SessionStoreContract",
    "StoreContract",
    "WriterLogContract",
    "capability_of",
    "run_threads",
]
