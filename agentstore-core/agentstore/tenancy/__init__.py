"""Tenant namespaces: ``store.tenant("acme")``, a view of the store confined to one tenant.

Names (generations, streams, credentials, rate-limit keys) of a tenant are stored under
the reserved prefix ``agentstore:t:<tenant>:``, which no other tenant can produce: a
tenant name is a lowercase DNS label (``[a-z0-9-]``, at most 63 characters) and never
holds the ``:`` that ends the prefix, so the mapping from ``(tenant, name)`` to the
stored name is one-to-one. Sessions, policies and agents live in the driver's own
per-tenant scope (:meth:`~agentstore.SessionStore._scoped`). See :mod:`.view` for what a
view guarantees.
"""

from agentstore.tenancy.names import (
    MAX_TENANT_LENGTH,
    TENANT_PREFIX,
    check_tenant,
    tenant_key,
    tenant_of,
)
from agentstore.tenancy.view import TenantStore

__all__ = [
    "MAX_TENANT_LENGTH",
    "TENANT_PREFIX",
    "TenantStore",
    "check_tenant",
    "tenant_key",
    "tenant_of",
]
