"""agentstore for asyncio: the synchronous contract as coroutines, never blocking the loop.

.. code-block:: python

    import agentstore.aio

    async def main() -> None:
        async with agentstore.aio.open() as store:
            await store.generation("report").bump()
            entry = await store.log("conv:demo", writer="alice").append(b"hello world")
            async for event in store.doorbell.events():
                ...

Imported only when used: ``import agentstore`` does not import it.
"""

from agentstore.aio.doorbell import AsyncDoorbell, EventsMissed, EventStream, Lagged
from agentstore.aio.governance import (
    AsyncAuditSink,
    AsyncCredentialStore,
    AsyncLifecycleStore,
    AsyncPolicyStore,
    AsyncRateLimitCounter,
    AsyncSessionStore,
)
from agentstore.aio.handles import AsyncGeneration, AsyncWriterLog
from agentstore.aio.store import AsyncStore, open

__all__ = [
    "AsyncAuditSink",
    "AsyncCredentialStore",
    "AsyncDoorbell",
    "AsyncGeneration",
    "AsyncLifecycleStore",
    "AsyncPolicyStore",
    "AsyncRateLimitCounter",
    "AsyncSessionStore",
    "AsyncStore",
    "AsyncWriterLog",
    "EventStream",
    "EventsMissed",
    "Lagged",
    "open",
]
