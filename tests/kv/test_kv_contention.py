"""Appends, bumps and increments racing on one key: every commit that loses is retried
from what won, so seqs stay contiguous and nothing is lost, across threads and processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import agentstore
import pytest
from agentstore import Doorbell, StoreError, StorePolicy, WriterLog
from agentstore.driver import OpenContext
from agentstore.kv import KeyValue, MemoryKeyValue, Pair, open_kv_stores
from agentstore.kv.logs import KvLogStore

STREAM, WRITER = "race:ü/1", "w𝄞"  # hostile on purpose: separators and astral Unicode


class Counting:
    """A KeyValue passing every call through, counting commits that were refused."""

    def __init__(self, inner: KeyValue) -> None:
        self.inner = inner
        self.refused = 0
        self.before_commit: list[object] = []

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(key)

    def scan(self, start: bytes, end: bytes, limit: int) -> Sequence[Pair]:
        return self.inner.scan(start, end, limit)

    def commit(
        self, expect: Mapping[bytes, bytes | None], writes: Mapping[bytes, bytes | None]
    ) -> bool:
        while self.before_commit:
            hook = self.before_commit.pop()
            assert callable(hook)
            hook()
        done = self.inner.commit(expect, writes)
        self.refused += not done
        return done

    def close(self) -> None:
        self.inner.close()


def _log(kv: KeyValue, stream: str = STREAM, writer: str = WRITER) -> WriterLog:
    stores = open_kv_stores(kv, OpenContext(frozenset({"logs"})), location="test")
    assert isinstance(stores.logs, KvLogStore)
    return WriterLog(stores.logs, Doorbell(), stream, writer)


def test_an_append_that_loses_the_race_is_retried_after_the_winner() -> None:
    shared = MemoryKeyValue()
    mine, theirs = Counting(shared), _log(shared)
    log = _log(mine)
    log.append(b"first")
    # Just before our next commit, another store appends: our guarded commit is refused.
    mine.before_commit.append(lambda: theirs.append(b"theirs"))
    entry = log.append(b"mine")
    assert mine.refused == 1
    assert entry.seq == 3
    assert [e.payload for e in log.entries()] == [b"first", b"theirs", b"mine"]
    assert log.verify() == 3


def test_appends_from_threads_through_separate_stores_are_contiguous() -> None:
    shared, threads, each = MemoryKeyValue(), 8, 40
    logs = [_log(shared) for _ in range(threads)]  # each store has its own head cache
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait(10)
            for i in range(each):
                logs[t].append(f"t{t}-{i}".encode())
        except BaseException as exc:
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the threads as finely as the GIL allows
    try:
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
    finally:
        sys.setswitchinterval(old)
    assert not errors
    stored = list(logs[0].entries())
    assert [e.seq for e in stored] == list(range(1, threads * each + 1))
    for t in range(threads):
        mine = [e.payload for e in stored if e.payload.startswith(f"t{t}-".encode())]
        assert mine == [f"t{t}-{i}".encode() for i in range(each)]
    assert logs[0].verify() == threads * each


CHILD = """
import sys, agentstore
path, tag, each, stream, writer = sys.argv[1:6]
policy = agentstore.StorePolicy("tiny", sections={"tiny": {"path": path}})
with agentstore.open(policy) as store:
    log, gen = store.log(stream, writer=writer), store.generation(stream)
    for i in range(int(each)):
        log.append(f"p{tag}-{i}".encode())
        gen.bump()
        store.rate_limits.increment(stream, 1, 3600.0)
"""


def test_appends_bumps_and_increments_from_processes_are_exact(tiny_policy: StorePolicy) -> None:
    path = tiny_policy.sections["tiny"]["path"]
    processes, each = 4, 30
    with agentstore.open(tiny_policy):  # create the store before the children race
        pass
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, path, str(p), str(each), STREAM, WRITER],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        for p in range(processes)
    ]
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0, out.decode(errors="replace")
    total = processes * each
    with agentstore.open(tiny_policy) as store:
        log = store.log(STREAM, writer=WRITER)
        stored = list(log.entries())
        assert [e.seq for e in stored] == list(range(1, total + 1))
        for p in range(processes):  # each process's appends kept their order
            mine = [e.payload for e in stored if e.payload.startswith(f"p{p}-".encode())]
            assert mine == [f"p{p}-{i}".encode() for i in range(each)]
        assert log.verify() == total
        assert store.generation(STREAM).current() == total
        assert store.rate_limits.current(STREAM) == total
    assert Path(path).stat().st_mode & 0o777 == 0o600


class Refusing(MemoryKeyValue):
    """A broken driver: its commit refuses every guarded write, whatever is stored."""

    def commit(
        self, expect: Mapping[bytes, bytes | None], writes: Mapping[bytes, bytes | None]
    ) -> bool:
        return False if expect else super().commit(expect, writes)


def test_a_commit_that_never_keeps_its_contract_is_an_error_not_a_hang() -> None:
    kv = Refusing()
    stores = open_kv_stores(kv, OpenContext(frozenset({"logs", "generations"})), location="x")
    assert stores.generations is not None
    with pytest.raises(StoreError, match="x: the driver's commit was refused 1000 times"):
        stores.generations.bump("g")
    log = WriterLog(stores.logs, Doorbell(), STREAM, WRITER)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="not keeping the KeyValue contract"):
        log.append(b"never")
    assert log.head() is None
