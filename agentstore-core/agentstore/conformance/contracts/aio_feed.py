"""The commit feed, conditional appends, stream views and erasure through the async face."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

import agentstore.aio
from agentstore.aio.governance import PAGE
from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.aio import AsyncContractBase
from agentstore.conformance.contracts.base import THREADS
from agentstore.errors import Conflict, HeadMoved, InvalidInput, NotFound
from agentstore.handles import REDACT_ACTION
from agentstore.types import CommitEvent, Entry


def _event(entry: Entry) -> CommitEvent:
    return CommitEvent(entry.stream, entry.writer, entry.seq, entry.content_hash, entry.position)


class AsyncFeedContract(AsyncContractBase):
    """store.feed/position/stream/follow, append(expect_head=) and redact, awaited."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def test_aio_feed_positions_and_pages(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                assert await store.position() == 0
                assert [e async for e in store.feed()] == []
                first = await store.log("a", writer="w").append(b"0")
                batch = await store.log("b", writer="v").append_many(
                    [b"%d" % i for i in range(PAGE + 3)]
                )
                written = [first, *batch]
                positions = [e.position for e in written]
                assert positions == sorted(set(positions)) and positions[0] > 0
                assert [e async for e in store.feed()] == [_event(e) for e in written]
                assert await store.position() == positions[-1]
                tail = [e async for e in store.feed(after=positions[PAGE])]
                assert tail == [_event(e) for e in written[PAGE + 1 :]]
                assert [e async for e in store.feed(limit=PAGE + 1)] == [
                    _event(e) for e in written[: PAGE + 1]
                ]
                assert [e async for e in store.feed(limit=0)] == []
                with pytest.raises(InvalidInput):
                    store.feed(after=-1)
                sync_feed = await asyncio.to_thread(lambda: list(store.sync.feed()))
                assert sync_feed == [_event(e) for e in written]

        self.run(main)

    def test_aio_feed_stream_entries_across_writers(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                written = [await store.log("conv", writer="alice").append(b"hi")]
                await store.log("other", writer="alice").append(b"elsewhere")
                written.append(await store.log("conv", writer="bob").append(b"hello"))
                written += await store.log("conv", writer="alice").append_many([b"a", b"b"])
                view = store.stream("conv")
                assert view.name == "conv"
                assert [e async for e in view.entries()] == written
                assert [e async for e in view] == written
                after = written[1].position
                assert [e async for e in view.entries(after=after)] == written[2:]
                with pytest.raises(InvalidInput):
                    store.stream("")

        self.run(main)

    def test_aio_feed_follow_catches_up_then_sees_new_commits(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                old = await store.log("s", writer="w").append_many([b"1", b"2"])
                got: list[CommitEvent] = []
                caught_up = asyncio.Event()

                async def consume() -> None:
                    async for event in store.follow(after=old[0].position, timeout=3.0):
                        got.append(event)
                        if event.position == old[1].position:
                            caught_up.set()

                task = asyncio.create_task(consume())
                waiting = asyncio.create_task(caught_up.wait())
                await asyncio.wait([task, waiting], timeout=30, return_when="FIRST_COMPLETED")
                waiting.cancel()
                if task.done():
                    task.result()  # raises what the follower raised
                assert caught_up.is_set()
                new = [await store.log("s", writer="v").append(b"3")]
                new.append(await store.log("s", writer="w").append(b"4", expect_head=2))
                await task
                assert got == [_event(old[1]), *map(_event, new)]

        self.run(main)

    def test_aio_feed_doorbell_events_carry_positions(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                rung: list[CommitEvent] = []
                store.doorbell.subscribe(rung.append)
                one = await store.log("s", writer="w").append(b"1")
                more = await store.log("s", writer="w").append_many([b"2", b"3"], expect_head=1)
                assert rung == [_event(one), *map(_event, more)]
                assert all(e.position > 0 for e in rung)

        self.run(main)

    def test_aio_expect_head(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                log = store.log("s", writer="w")
                assert await log.append_many([], expect_head=0) == []
                first = await log.append(b"1", expect_head=0)
                assert first.seq == 1
                with pytest.raises(HeadMoved) as info:
                    await log.append(b"1", expect_head=0)  # a retry after success
                assert isinstance(info.value, Conflict)
                assert (info.value.expected, info.value.actual) == (0, 1)
                with pytest.raises(HeadMoved):
                    await log.append_many([], expect_head=0)
                with pytest.raises(InvalidInput):
                    await log.append(b"x", expect_head=-1)
                assert [e.payload async for e in log.entries()] == [b"1"]

                async def contend(i: int, k: int) -> bool:
                    try:
                        await log.append(b"%d-%d" % (i, k), expect_head=k)
                    except HeadMoved:
                        return False
                    return True

                for k in range(1, 6):  # each head won by exactly one of the racing tasks
                    won = await asyncio.gather(*(contend(i, k) for i in range(THREADS)))
                    assert won.count(True) == 1
                assert [e.seq async for e in log.entries()] == [1, 2, 3, 4, 5, 6]

        self.run(main)

    def test_aio_redact(self) -> None:
        async def main() -> None:
            async with agentstore.aio.open(self.policy, registry=self.registry) as store:
                log = store.log("conv", writer="alice")
                before = await log.append_many([b"hello", b"secret", b"bye"])
                erased = await log.redact(2, reason="erasure request")
                assert erased == before[1]._replace(payload=b"", redacted=True)
                assert [e async for e in log.entries()] == [before[0], erased, before[2]]
                checked = await log.verify()
                assert (checked, checked.redacted) == (3, 1)
                assert await log.redact(2, reason="again") == erased
                with pytest.raises(NotFound):
                    await log.redact(9, reason="gdpr")
                with pytest.raises(InvalidInput):
                    await log.redact(1, reason="")
                if "audit" in store.routes:
                    records = [r async for r in store.audit.records()]
                    done = [r for r in records if r.entry.action == REDACT_ACTION]
                    assert [r.entry.detail["seq"] for r in done] == [2]

        self.run(main)


__all__ = ["AsyncFeedContract"]
