"""``astore.tenant(name)``: the async store as one tenant sees it."""

from __future__ import annotations

import asyncio
from typing import Any

from agentstore.aio._threads import Runner, closed_error
from agentstore.aio.doorbell import AsyncDoorbell
from agentstore.aio.feed import BridgedFeed
from agentstore.aio.handles import BridgedLogStore
from agentstore.aio.store import AsyncStore, bridged
from agentstore.capabilities import CapabilityName
from agentstore.errors import InvalidInput
from agentstore.tenancy.view import TenantStore, view_closed


class AsyncTenantStore(AsyncStore):
    """An :class:`~agentstore.aio.AsyncStore` confined to one tenant, as
    :class:`~agentstore.tenancy.TenantStore` is (its ``sync``): the same guarantees, every
    call run on the store's threads (a tenant's calls never use a driver's native
    asyncio path).

    :meth:`aclose` closes only the view; closing the store closes its views.
    """

    def __init__(self, root: AsyncStore, tenant: str) -> None:  # no super(): shares root's
        sync = root.sync.tenant(tenant)
        self.tenant_name = sync.tenant_name
        self._root = root
        self.sync = sync
        self.policy = root.policy
        self._offload = root._offload
        self._run = Runner(root._offload)
        loop = asyncio.get_running_loop()
        self.doorbell = AsyncDoorbell(sync.doorbell, loop, parent=root.doorbell)
        logs = BridgedLogStore(
            sync._cap("logs"),
            sync.doorbell,
            self._run,
            locks=root._view_locks,
            scope=self.tenant_name,
        )
        # The feed's conditional appends take the log store's locks, as the store's do.
        self._feed = BridgedFeed(sync, logs._run, logs._lock)
        self._caps = {"logs": logs}
        self._closers = []
        self._closing = None
        self._view_closed = False

    def _cap(self, capability: CapabilityName) -> Any:
        # The store's closing first: it closes its views too, and the remedy differs.
        if self._offload.closed:
            raise closed_error(f"cannot use capability {capability!r}")
        if self._view_closed:
            raise view_closed(capability, self.tenant_name)
        found = self._caps.get(capability)
        if found is None:
            found = bridged(capability, self.sync._cap(capability), self.sync.doorbell, self._run)
            self._caps[capability] = found
        return found

    @property
    def closed(self) -> bool:
        return self._view_closed or self._offload.closed

    async def aclose(self) -> None:
        """Close this view (the store and its other views stay open). Idempotent."""
        if self._view_closed:
            return
        self._view_closed = True
        self.sync.close()
        await self.doorbell._aclose()

    def tenant(self, name: str) -> AsyncTenantStore:
        """Refused: a tenant's view does not reach other tenants."""
        raise InvalidInput(
            f"the view of tenant {self.tenant_name!r} cannot open tenant {name!r}: "
            "take tenant views from the store agentstore.aio.open returned"
        )

    def __repr__(self) -> str:
        drivers = sorted(set(self.sync.routes.values()))
        return (
            f"<agentstore.aio.AsyncTenantStore tenant={self.tenant_name!r} "
            f"drivers={drivers} closed={self.closed}>"
        )


__all__ = ["AsyncTenantStore", "TenantStore"]
