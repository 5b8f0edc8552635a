"""The sqlite driver under ``agentstore.aio`` (imported only by it).

Every call runs on the async store's threads, as for any synchronous driver, except that
``verify`` of a long chain is checked by the driver's worker processes alone: the thread
that waits for them holds no GIL, so the event loop keeps its pace.
"""

from __future__ import annotations

from agentstore.aio._driver import AsyncDriverStores, NativeKit
from agentstore.aio._threads import Runner
from agentstore.aio.handles import BridgedLogStore
from agentstore.capabilities import driver_call
from agentstore.doorbell import Doorbell
from agentstore.registry import DriverStores

from agentstore_sqlite.logs import SqliteLogStore


class SqliteAsyncLogStore(BridgedLogStore):
    """Bridged sqlite logs whose verify leaves the checking to worker processes."""

    def __init__(self, logs: SqliteLogStore, doorbell: Doorbell, runner: Runner) -> None:
        super().__init__(logs, doorbell, runner)
        self._logs = logs

    def _verify_now(self, stream: str, writer: str) -> int:
        with driver_call("WriterLog.verify"):
            return self._logs._verify(stream, writer, here=False)

    async def verify(self, stream: str, writer: str) -> int:
        return await self._run.heavy(self._verify_now, stream, writer)


async def open_native(stores: DriverStores, kit: NativeKit) -> AsyncDriverStores:
    """The sqlite stores, bridged, with the verify described in the module docstring."""
    native = AsyncDriverStores()
    if isinstance(stores.logs, SqliteLogStore):
        native.logs = SqliteAsyncLogStore(stores.logs, kit.doorbell, Runner(kit.offload))
    return native


__all__ = ["SqliteAsyncLogStore", "open_native"]
