"""Where the UUID-keyed governance stores of the SQL substrate keep a tenant's rows.

No table or column of its own: a tenant's policy, session or agent row keeps its key in
the same text column as the root store's rows, stored as ``agentstore:t:<tenant>:<uuid>``
(:func:`agentstore.tenancy.tenant_key`); the root store keeps plain UUID text, which
never starts with ``agentstore:``. A :class:`KeySpace` says which of the two a store
reads and writes:

- point statements bind the stored key (:meth:`KeySpace.key`) and need nothing else;
- every listing and every maintenance statement (``purge_expired``, ``live``, ``prune``)
  adds the space's condition (:meth:`KeySpace.where`): a tenant's rows only, or for the
  root every row outside all tenants (rows written before tenants existed included).

The conditions compare prefixes for equality, so they are exact whatever collation the
column sorts by (a PostgreSQL database may sort text by a locale, where a tenant's keys
are not one contiguous range). On SQLite, whose text sorts by code point, a tenant's
condition is the range ``prefix <= key < prefix-with-its-last-character-incremented``
instead, which the primary key index serves; on PostgreSQL the index serves the start
of a tenant's listing (``key > prefix``) and its order.
"""

from __future__ import annotations

from typing import Final

from agentstore.checks import RESERVED_PREFIX
from agentstore.sql.backend import Backend, Dialect, Value
from agentstore.sql.positions import prefix_range


def outside_tenants(column: str) -> str:
    """The condition a root store's listings and maintenance add: ``column`` holds no
    key of the reserved namespace (none of any tenant's). Binds nothing."""
    return f"substr({column}, 1, {len(RESERVED_PREFIX)}) <> '{RESERVED_PREFIX}'"


def _tenant_prefix(tenant: str) -> str:
    # Imported here: opening a SQL store without tenants loads nothing of agentstore.tenancy.
    from agentstore.tenancy.names import tenant_key

    return tenant_key(tenant, "")


class KeySpace:
    """The keys one store reads and writes: the root's (``tenant`` None) or one tenant's.

    A tenant's space holds exactly the stored keys starting with its prefix, which no
    other tenant's key and no root key starts with (see :mod:`agentstore.tenancy.names`).
    """

    __slots__ = ("_by_range", "prefix", "tenant")

    def __init__(self, tenant: str | None = None, *, by_range: bool = False) -> None:
        self.tenant = tenant
        self.prefix = "" if tenant is None else _tenant_prefix(tenant)
        self._by_range = by_range

    @classmethod
    def of(cls, backend: Backend, tenant: str) -> KeySpace:
        """Tenant ``tenant``'s space on ``backend``.

        Raises:
            InvalidInput: ``tenant`` is not a tenant name (one holding ``:`` would reach
                into another tenant's keys).
        """
        from agentstore.tenancy.names import check_tenant

        return cls(check_tenant(tenant), by_range=backend.dialect is Dialect.SQLITE)

    @property
    def is_root(self) -> bool:
        return self.tenant is None

    def key(self, value: object) -> str:
        """The stored key of ``value`` (an AgentId or SessionId) in this space."""
        return self.prefix + str(value)

    def first(self, after: object | None) -> str:
        """The stored key a listing resumes after: ``after``'s, or for a listing from the
        start the space's own prefix (every key of the space sorts above it; "" for the
        root, which sorts below every key)."""
        return self.prefix if after is None else self.key(after)

    def out(self, stored: str) -> str:
        """The key as the caller knows it: ``stored`` without the space's prefix."""
        return stored[len(self.prefix) :]

    def where(self, column: str) -> str:
        """The condition on ``column`` of this space's rows; binds :meth:`params`."""
        if self.tenant is None:
            return outside_tenants(column)
        if self._by_range:
            return f"{column} >= ? AND {column} < ?"
        return f"substr({column}, 1, length(?)) = ?"

    def params(self) -> tuple[Value, ...]:
        """What :meth:`where` binds, in order."""
        if self.tenant is None:
            return ()
        if self._by_range:
            return prefix_range(self.prefix)
        return self.prefix, self.prefix


ROOT: Final = KeySpace()
"""The root store's space: keys outside every tenant."""


__all__ = ["ROOT", "KeySpace", "outside_tenants"]
