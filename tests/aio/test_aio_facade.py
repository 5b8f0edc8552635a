"""The async face beyond the driver contract: import cost, a hung driver call, streams."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import agentstore.aio
import pytest
from agentstore import Entry, Registry, StoreError, StorePolicy
from agentstore.aio import EventsMissed, Lagged
from agentstore.aio._threads import Offload
from agentstore.driver import DriverSpec, DriverStores, OpenContext
from agentstore.feed import POLL_SECONDS
from agentstore.registry import NoConfig
from agentstore_memory import open_memory
from agentstore_memory.stores import MemoryLogStore


def test_import_agentstore_does_not_import_the_async_face() -> None:
    code = "import sys, agentstore; print('agentstore.aio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _Gate:
    """Blocks appends on a thread until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()


def _gated_registry(gate: _Gate) -> Registry:
    class GatedLogs(MemoryLogStore):
        def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
            gate.entered.set()
            gate.release.wait(30)
            return super()._append_many(stream, writer, payloads)

    def open_gated(config: NoConfig, context: OpenContext) -> DriverStores:
        stores = open_memory(context)
        stores.logs = GatedLogs()
        return stores

    registry = Registry(load_entry_points=False)
    registry.register(DriverSpec(name="gated", open=open_gated, description="test"))
    return registry


def test_closing_fails_a_call_stuck_in_the_driver_at_once() -> None:
    gate = _Gate()
    registry = _gated_registry(gate)

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy("gated"), registry=registry)
        log = store.log("s", writer="w")
        stuck = asyncio.ensure_future(log.append(b"x"))
        await asyncio.to_thread(gate.entered.wait, 10)
        closing = asyncio.ensure_future(store.aclose())
        # The caller learns at once, while the driver call is still blocked on its thread.
        with pytest.raises(StoreError, match="closed"):
            await asyncio.wait_for(stuck, 5)
        assert not closing.done()  # the driver call still runs: close waits for it
        gate.release.set()
        await asyncio.wait_for(closing, 10)

    asyncio.run(main())
    assert not [t for t in threading.enumerate() if t.name.startswith("agentstore-aio")]


def test_a_call_cancelled_before_it_starts_never_runs() -> None:
    ran: list[int] = []
    hold = threading.Event()

    async def main() -> None:
        offload = Offload(1)
        first = asyncio.ensure_future(offload.run(hold.wait, 10))
        second = asyncio.ensure_future(offload.run(ran.append, 1))
        await asyncio.sleep(0.05)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        hold.set()
        assert await first is True
        await asyncio.to_thread(offload.shutdown)

    asyncio.run(main())
    assert ran == []


def test_an_event_stream_dropped_without_closing_unsubscribes() -> None:
    async def main() -> None:
        async with agentstore.aio.open(StorePolicy("memory")) as store:
            stream = store.doorbell.events()
            assert store.doorbell.subscriber_count == 1
            del stream
            gc.collect()
            await store.log("s", writer="w").append(b"x")  # the next ring finds it gone
            assert store.doorbell.subscriber_count == 0

    asyncio.run(main())


def test_an_event_stream_ends_when_the_store_closes() -> None:
    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy("memory"))
        stream = store.doorbell.events()
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        await store.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 5)

    asyncio.run(main())


@pytest.mark.parametrize("tenant", [False, True], ids=["store", "tenant-view"])
def test_a_follower_ends_with_store_error_at_once_when_the_store_closes(tenant: bool) -> None:
    """aclose() fails every call still awaited at once: a follower waiting for the next
    commit once learnt of it only at its next read of the feed, up to a second later."""

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy("memory"))
        source = store.tenant("acme") if tenant else store
        follower = source.follow()
        waiting = asyncio.ensure_future(anext(follower))
        await asyncio.sleep(0.05)  # it read the empty feed and waits for a commit
        del source
        gc.collect()
        loop = asyncio.get_running_loop()
        start = loop.time()
        await store.aclose()
        with pytest.raises(StoreError, match="closed"):
            await asyncio.wait_for(waiting, 5)
        assert loop.time() - start < POLL_SECONDS / 2

    asyncio.run(main())


@pytest.mark.parametrize("tenant", [False, True], ids=["store", "tenant-view"])
def test_events_asked_of_a_closed_store_raise_store_error(tenant: bool) -> None:
    """It once returned a stream that waited forever: nothing would ever ring it."""

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy("memory"))
        source = store.tenant("acme") if tenant else store
        await store.aclose()
        with pytest.raises(StoreError, match="closed"):
            source.doorbell.events()
        view = (await agentstore.aio.open(StorePolicy("memory"))).tenant("beta")
        await view.aclose()  # the view alone
        with pytest.raises(StoreError, match="tenant view is closed"):
            view.doorbell.events()
        await view._root.aclose()

    asyncio.run(main())


def test_lagged_is_events_missed() -> None:
    assert Lagged is EventsMissed
    assert EventsMissed(3).missed == 3
    assert issubclass(EventsMissed, StoreError)


def test_a_failed_open_raises_the_sync_error_and_leaves_no_thread(tmp_path: Path) -> None:
    from agentstore import BackendUnavailable, UnknownDriver

    async def main() -> None:
        with pytest.raises(UnknownDriver):
            await agentstore.aio.open(StorePolicy("no-such-driver"))
        missing = StorePolicy("sqlite", sections={"sqlite": {"path": str(tmp_path / "x.db")}})
        with pytest.raises(BackendUnavailable):
            async with agentstore.aio.open(missing, create=False):
                pytest.fail("opened a store that does not exist with create=False")

    asyncio.run(main())
    assert not [t for t in threading.enumerate() if t.name.startswith("agentstore-aio")]
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("workers", [0, -1, "8", 2.5, True])
def test_a_bad_worker_count_is_invalid_input_and_opens_nothing(workers: object) -> None:
    """It once raised ValueError or TypeError (not a StoreError), or was taken (2.5)."""
    from agentstore import InvalidInput

    async def main() -> None:
        with pytest.raises(InvalidInput, match="workers"):
            await agentstore.aio.open(StorePolicy("memory"), workers=workers)  # type: ignore[arg-type]

    asyncio.run(main())
    assert not [t for t in threading.enumerate() if t.name.startswith("agentstore-aio")]


@pytest.mark.parametrize("batch", [5, None, b"ab", "ab"])
@pytest.mark.parametrize("expect_head", [None, 0])
@pytest.mark.parametrize("tenant", [False, True], ids=["store", "tenant-view"])
def test_an_async_batch_that_is_not_an_iterable_of_payloads_is_refused(
    batch: object, expect_head: int | None, tenant: bool
) -> None:
    """As the synchronous log: InvalidInput, not TypeError or 'payload #0 ... int'."""
    from agentstore import InvalidInput

    async def main() -> None:
        async with agentstore.aio.open(StorePolicy("memory")) as store:
            log = (store.tenant("acme") if tenant else store).log("s", "w")
            with pytest.raises(InvalidInput, match="payloads must be an iterable of payloads"):
                await log.append_many(batch, expect_head=expect_head)  # type: ignore[arg-type]
            assert await log.head() is None

    asyncio.run(main())
