"""The memory driver is native to the async face: calls on the loop, heavy work off it."""

from __future__ import annotations

import asyncio
import threading

import agentstore.aio
import agentstore_memory.aio as memory_aio
import pytest
from agentstore import StorePolicy


def test_memory_calls_run_on_the_loop_thread() -> None:
    rung_on: list[int] = []

    async def main() -> None:
        async with agentstore.aio.open(StorePolicy("memory")) as store:
            store.doorbell.subscribe(lambda e: rung_on.append(threading.get_ident()))
            log = store.log("s", writer="w")
            assert isinstance(store._caps["logs"], memory_aio.MemoryAsyncLogStore)
            await log.append(b"small")
            await log.append_many([b"a", b"b"])
            await store.generation("g").bump()

    asyncio.run(main())
    assert rung_on == [threading.get_ident()] * 3


def test_memory_hashes_large_batches_and_verifies_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed_on: list[int] = []
    verified_on: list[int] = []
    chain = memory_aio.chain_entries

    def spy(*args: object) -> object:
        hashed_on.append(threading.get_ident())
        return chain(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(memory_aio, "chain_entries", spy)

    async def main() -> None:
        async with agentstore.aio.open(StorePolicy("memory")) as store:
            log = store.log("s", writer="w")
            sync_logs = store.sync._cap("logs")
            verify = sync_logs._verify

            def verify_spy(stream: str, writer: str) -> int:
                verified_on.append(threading.get_ident())
                return verify(stream, writer)

            sync_logs._verify = verify_spy
            big = await log.append_many([b"x"] * (memory_aio.INLINE_ENTRIES + 1))
            one = await log.append(b"y" * (memory_aio.INLINE_BYTES + 1))
            assert [e.seq for e in big] == list(range(1, memory_aio.INLINE_ENTRIES + 2))
            assert one.seq == memory_aio.INLINE_ENTRIES + 2
            assert await log.verify() == one.seq

    asyncio.run(main())
    loop_thread = threading.get_ident()
    assert len(hashed_on) == 2 and loop_thread not in hashed_on
    assert len(verified_on) == 1 and loop_thread not in verified_on


def test_memory_batch_hashed_off_the_loop_retries_after_a_racing_append() -> None:
    async def main() -> None:
        async with agentstore.aio.open(StorePolicy("memory")) as store:
            log = store.log("s", writer="w")
            payloads = [f"b{i}".encode() for i in range(memory_aio.INLINE_ENTRIES * 20)]
            batch = asyncio.ensure_future(log.append_many(payloads))
            await asyncio.sleep(0)  # the batch is hashing on a thread
            small = [await log.append(f"s{i}".encode()) for i in range(5)]
            entries = await batch
            assert [e.seq for e in small] == [1, 2, 3, 4, 5]  # the racing appends came first
            assert [e.seq for e in entries] == list(range(6, 6 + len(payloads)))
            assert await log.verify() == 5 + len(payloads)

    asyncio.run(main())
