"""``store.tenant(name)``: the store as one tenant sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentstore.audit import LogAuditSink
from agentstore.capabilities import CapabilityName
from agentstore.errors import InvalidInput, StoreError, Unsupported
from agentstore.feed import Followers
from agentstore.store import Store
from agentstore.tenancy.names import check_tenant
from agentstore.tenancy.stores import (
    TenantCredentialStore,
    TenantDoorbell,
    TenantGenerationStore,
    TenantLogStore,
    TenantRateLimitCounter,
)

if TYPE_CHECKING:
    from agentstore.capabilities import WriterLogStore

_WRAPPERS: dict[CapabilityName, Any] = {
    "generations": TenantGenerationStore,
    "logs": TenantLogStore,
    "credentials": TenantCredentialStore,
    "rate_limits": TenantRateLimitCounter,
}


def view_closed(capability: str, tenant: str) -> StoreError:
    """The error of a capability used through a tenant view closed on its own (sync or
    async): the remedy is another view, not reopening the store."""
    return StoreError(
        f"cannot use capability {capability!r}: the view of tenant {tenant!r} is closed; "
        "take another with store.tenant()"
    )


class TenantStore(Store):
    """A view of a :class:`~agentstore.Store` confined to one tenant.

    Every capability answers as the store does, over the tenant's data only: its
    generations, streams and logs (with its own audit chain and signed checkpoints),
    commit feed, sessions, policies, credentials, rate-limit keys and agents. What one
    tenant stores, no other tenant's view can read, list, overwrite or delete, whatever
    names it passes: the tenant name cannot be forged from inside a name (see
    :mod:`agentstore.tenancy.names`).

    The view shares the store's drivers, connections and doorbell, so it costs no
    connection and is cheap to make per request; closing it only closes the view, and
    closing the store closes every view of it. Positions (``feed``, ``position``) are the
    store's: a tenant sees the store-wide positions of its own entries, and from
    ``position()`` how far the store's feed has come (on a PostgreSQL connection under
    row-level security, how far the part of it the connection may read has come).

    The store that :func:`agentstore.open` returns is the operator's: it reaches every
    tenant's named data under its stored names (``agentstore:t:<tenant>:<name>``), as
    ``agentstore rotate-key`` and ``agentstore verify`` need. Give code acting for a
    tenant only its view.
    """

    def __init__(self, store: Store, tenant: str) -> None:  # no super(): shares store's drivers
        self.tenant_name = check_tenant(tenant)
        self._root = store
        self.policy = store.policy
        self.keyring = store.keyring
        self.doorbell = TenantDoorbell(store.doorbell, tenant)
        self._routes = store._routes
        self._closed = False
        self._followers = Followers(store._followers)
        self._views: dict[CapabilityName, Any] = {}

    def _cap(self, capability: CapabilityName) -> Any:
        if self._closed:
            raise view_closed(capability, self.tenant_name)
        view = self._views.get(capability)
        if view is None:
            view = self._views[capability] = self._scope(capability, self._root._cap(capability))
        return view

    def _scope(self, capability: CapabilityName, inner: Any) -> Any:
        wrapper = _WRAPPERS.get(capability)
        if wrapper is not None:
            return wrapper(inner, self.tenant_name)
        if capability == "audit":
            if not isinstance(inner, LogAuditSink):
                raise Unsupported(
                    f"the audit sink {type(inner).__name__} keeps one chain for the whole "
                    "store; a tenant's audit chain needs one kept on the store's logs"
                )
            logs: WriterLogStore = TenantLogStore(inner.log_store, self.tenant_name)
            return LogAuditSink(logs)
        return inner._scoped(self.tenant_name)

    @property
    def closed(self) -> bool:
        return self._closed or self._root.closed

    def close(self) -> None:
        """Close this view (the store and its other views stay open). Idempotent."""
        self._closed = True
        self._followers.close()

    def tenant(self, name: str) -> TenantStore:
        """Refused: a tenant's view does not reach other tenants."""
        raise InvalidInput(
            f"the view of tenant {self.tenant_name!r} cannot open tenant {name!r}: "
            "take tenant views from the store agentstore.open returned"
        )

    def __enter__(self) -> TenantStore:
        return self

    def __repr__(self) -> str:
        drivers = sorted(set(self._routes.values()))
        return (
            f"<agentstore.TenantStore tenant={self.tenant_name!r} drivers={drivers} "
            f"closed={self.closed}>"
        )


__all__ = ["TenantStore"]
