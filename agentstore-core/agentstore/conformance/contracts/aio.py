"""The contract through the async face (:mod:`agentstore.aio`), for every driver.

Each test runs its coroutine with :func:`asyncio.run` (a loop the test owns, no
pytest-asyncio needed) and fails if the async store leaves one of its threads behind.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

import pytest

import agentstore.aio
from agentstore.aio import AsyncStore, EventsMissed
from agentstore.aio.governance import PAGE
from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.base import (
    HELLO_WORLD_HASH,
    SECOND_HASH,
    THREADS,
    ContractBase,
)
from agentstore.errors import (
    InvalidInput,
    NonMonotonicGeneration,
    StoreError,
)
from agentstore.types import CommitEvent, Entry

T = TypeVar("T")


def _store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("agentstore-aio")]


class AsyncContractBase(ContractBase):
    """Runs a test's coroutine on a fresh loop; checks no store thread outlives it."""

    def run(self, main: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0) -> T:
        before = set(_store_threads())
        result = asyncio.run(asyncio.wait_for(main(), timeout))
        leaked = [t for t in _store_threads() if t not in before and t.is_alive()]
        assert not leaked, f"async store threads left running: {leaked}"
        return result

    def aopen(self) -> Awaitable[AsyncStore]:
        """Open the policy for asyncio with the test's clock (close it in the test)."""
        return agentstore.aio.open(self.policy, registry=self.registry, clock=self.clock)


class AsyncGenerationContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "generations"

    def test_aio_generation_counts_and_refuses_to_go_back(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                gen = store.generation("report")
                assert await gen.current() == 0
                assert [await gen.bump() for _ in range(3)] == [1, 2, 3]
                assert await gen.advance_to(10) == 10
                with pytest.raises(NonMonotonicGeneration):
                    await gen.advance_to(9)
                with pytest.raises(InvalidInput):
                    await gen.advance_to(-1)
                assert await gen.current() == 10
                values = await asyncio.gather(*(gen.bump() for _ in range(THREADS * 4)))
                assert sorted(values) == list(range(11, 11 + THREADS * 4))

        self.run(main)


class AsyncWriterLogContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "logs"

    def test_aio_log_append_read_verify(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            try:
                log = store.log("conv", writer="alice")
                assert await log.head() is None
                first = await log.append(b"hello world")
                second = await log.append(b"second")
                assert (first.seq, first.content_hash.hex()) == (1, HELLO_WORLD_HASH)
                assert (second.prev_hash, second.content_hash.hex()) == (
                    first.content_hash,
                    SECOND_HASH,
                )
                batch = await log.append_many(f"b{i}".encode() for i in range(PAGE + 7))
                assert [e.seq for e in batch] == list(range(3, PAGE + 10))
                assert await log.append_many([]) == []
                assert await log.head() == batch[-1]
                seen = [e async for e in log.entries()]
                assert [e.seq for e in seen] == list(range(1, PAGE + 10))
                assert seen[:2] == [first, second]
                assert [e.seq async for e in log.entries(after=PAGE + 5)] == [
                    PAGE + 6,
                    PAGE + 7,
                    PAGE + 8,
                    PAGE + 9,
                ]
                assert await log.verify() == PAGE + 9
                assert ("conv", "alice") in await store.logs()
            finally:
                await store.aclose()

        self.run(main)

    def test_aio_log_refuses_bad_input_and_stores_nothing(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                log = store.log("conv", writer="alice")
                with pytest.raises(InvalidInput):
                    await log.append("text")  # type: ignore[arg-type]
                with pytest.raises(InvalidInput):
                    await log.append_many([b"fine", 7])  # type: ignore[list-item]
                with pytest.raises(InvalidInput):
                    log.entries(after=-1)
                with pytest.raises(InvalidInput):
                    store.log("agentstore:audit", writer="x")
                assert await log.head() is None

        self.run(main)

    def test_aio_tasks_appending_one_log_get_contiguous_seqs(self) -> None:
        per_task = 15

        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                log = store.log("race", writer="w")

                async def task(i: int) -> list[Entry]:
                    return [await log.append(f"{i}-{n}".encode()) for n in range(per_task)]

                results = await asyncio.gather(*(task(i) for i in range(THREADS)))
                seqs = sorted(e.seq for r in results for e in r)
                assert seqs == list(range(1, THREADS * per_task + 1))
                for entries in results:
                    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
                assert await log.verify() == THREADS * per_task

        self.run(main)

    def test_aio_tasks_in_several_processes_share_one_log(self) -> None:
        self.require_persistent()
        if self.spec.distribution is None:
            pytest.skip("a driver registered in-process cannot be opened by another process")
        script = (
            "import asyncio, pathlib, sys, agentstore, agentstore.aio\n"
            "policy_file, source, tag = sys.argv[1:4]\n"
            "text = pathlib.Path(policy_file).read_text(encoding='utf-8')\n"
            "policy = agentstore.StorePolicy.loads(text, source=source or None)\n"
            "async def main():\n"
            "    async with agentstore.aio.open(policy) as store:\n"
            "        log = store.log('shared', writer='w')\n"
            "        async def task(t):\n"
            "            for i in range(10):\n"
            "                await log.append(f'{tag}-{t}-{i}'.encode())\n"
            "        await asyncio.gather(*(task(t) for t in range(3)))\n"
            "asyncio.run(main())\n"
        )
        fd, policy_file = tempfile.mkstemp(prefix="agentstore-policy-", suffix=".toml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.policy.dumps())
        try:
            args = [policy_file, self.policy.source or ""]
            children = [
                subprocess.Popen(
                    [sys.executable, "-c", script, *args, str(p)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                for p in range(3)
            ]

            async def main() -> None:
                async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                    log = store.log("shared", writer="w")
                    await asyncio.gather(*(log.append(f"parent-{i}".encode()) for i in range(10)))
                    for child in children:
                        out, _ = await asyncio.to_thread(child.communicate, None, 120)
                        assert child.returncode == 0, out.decode(errors="replace")
                    assert await log.verify() == 3 * 30 + 10
                    payloads = {e.payload async for e in log.entries()}
                    assert len(payloads) == 100

            self.run(main)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                child.communicate()
            os.unlink(policy_file)

    def test_aio_cancelled_appends_leave_whole_batches_or_nothing(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                log = store.log("cancel", writer="w")
                tasks = [
                    asyncio.ensure_future(log.append_many([f"{i}-{k}".encode() for k in range(3)]))
                    for i in range(20)
                ]
                await asyncio.sleep(0)
                for task in tasks[::2]:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                head = await log.head()
                count = 0 if head is None else head.seq
                assert count % 3 == 0  # whole batches only
                entries = [e async for e in log.entries()]
                assert len(entries) == count
                for i in range(0, count, 3):
                    tags = {e.payload.split(b"-")[0] for e in entries[i : i + 3]}
                    assert len(tags) == 1, entries[i : i + 3]
                for task in tasks:
                    if not task.cancelled():
                        assert task.result() == entries[task.result()[0].seq - 1 :][:3]
                assert (await log.append(b"after")).seq == count + 1
                assert await log.verify() == count + 1

        self.run(main)

    def test_aio_close_while_busy_fails_calls_with_store_error(self) -> None:
        async def main() -> None:
            store = await self.aopen()
            log = store.log("busy", writer="w")

            async def writer() -> int:
                n = 0
                while True:
                    await log.append(b"x")
                    n += 1

            tasks = [asyncio.ensure_future(writer()) for _ in range(THREADS)]
            await asyncio.sleep(0.05)
            await asyncio.wait_for(store.aclose(), 60)
            done, pending = await asyncio.wait(tasks, timeout=10)
            assert not pending, "a call hung after the store was closed"
            for task in done:
                assert isinstance(task.exception(), StoreError), task.exception()
            with pytest.raises(StoreError, match="closed"):
                await log.append(b"late")
            with pytest.raises(StoreError, match="closed"):
                store.log("busy", writer="w")
            with pytest.raises(StoreError, match="closed"):
                await store.logs()
            await store.aclose()  # idempotent

        self.run(main)


class AsyncDoorbellContract(AsyncContractBase):
    capability: ClassVar[CapabilityName | None] = "logs"

    def test_aio_doorbell_plain_and_async_subscribers(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                plain: list[int] = []
                later: list[Entry | None] = []
                done = asyncio.Event()

                async def reader(event: CommitEvent) -> None:
                    log = store.log(event.stream, writer=event.writer)
                    later.append(await log.head())
                    done.set()

                async def broken(event: CommitEvent) -> None:
                    raise RuntimeError("consumer bug")

                store.doorbell.subscribe(lambda e: plain.append(e.seq))
                store.doorbell.subscribe(broken)
                handle = store.doorbell.subscribe(reader)
                entry = await store.log("conv", writer="a").append(b"one")
                await asyncio.wait_for(done.wait(), 10)
                handle.unsubscribe()
                await store.log("conv", writer="a").append(b"two")
                assert plain == [1, 2]
                assert later == [entry]
                with pytest.raises(InvalidInput):
                    store.doorbell.subscribe(42)  # type: ignore[arg-type]

        self.run(main)

    def test_aio_doorbell_events_in_commit_order_per_log(self) -> None:
        per_task = 10

        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                events = store.doorbell.events()
                logs = [store.log("ordered", writer=w) for w in ("a", "b")]

                async def task(i: int) -> None:
                    for n in range(per_task):
                        await logs[i % 2].append(f"{i}-{n}".encode())

                await asyncio.gather(*(task(i) for i in range(THREADS)))
                await logs[0].append_many([b"x", b"y"])
                seen: list[CommitEvent] = []
                total = THREADS * per_task + 2
                async for event in events:
                    seen.append(event)
                    if len(seen) == total:
                        break
                await events.aclose()
                for writer in ("a", "b"):
                    seqs = [e.seq for e in seen if e.writer == writer]
                    assert seqs == list(range(1, len(seqs) + 1))
                head = await logs[0].head()
                assert head is not None
                assert seen[-1] == CommitEvent(
                    "ordered", "a", head.seq, head.content_hash, head.position
                )

        self.run(main)

    def test_aio_doorbell_events_overflow_is_reported_not_blocking(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                log = store.log("flood", writer="w")
                events = store.doorbell.events(maxsize=5)
                await asyncio.wait_for(log.append_many([b"x"] * 30), 60)  # never blocks
                seen: list[int] = []
                with pytest.raises(EventsMissed) as info:
                    async for event in events:
                        seen.append(event.seq)
                assert seen == [1, 2, 3, 4, 5]  # what it kept, gap-free, then the error
                assert info.value.missed == 25
                assert isinstance(info.value, StoreError)
                again = store.doorbell.events()
                await log.append(b"later")
                assert (await anext(again)).seq == 31  # a new stream starts afresh

        self.run(main)


__all__ = [
    "AsyncContractBase",
    "AsyncDoorbellContract",
    "AsyncGenerationContract",
    "AsyncWriterLogContract",
]
