"""aa-storage's ``[storage]`` table, read as the equivalent ``[store]`` policy.

.. code-block:: toml

    [storage]
    policy_store       = "redis"      # or policy, or policies
    audit_sink         = "postgres"   # or audit
    session_store      = "redis"      # or session, sessions
    credential_store   = "postgres"   # or credential, credentials
    rate_limit_counter = "memory"     # or rate_limit, rate_limits
    lifecycle_store    = "postgres"   # or lifecycle

    [storage.redis]
    url = "redis://localhost:6379"

    [storage.postgres]
    url = { env = "AGENTSTORE_POSTGRES_URL" }

Each key names the driver of one storage kind; every table is the section of the driver it
is named after. aa-storage has no causal primitives: ``generations`` and ``logs`` may be
named too, and otherwise go to the backend, which is the driver of ``logs``, else of the
audit sink (aa-storage's one chained log), else the built-in default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from agentstore._policy_wording import did_you_mean
from agentstore.capabilities import CapabilityName
from agentstore.errors import InvalidPolicy

KIND_KEYS: Final[Mapping[str, CapabilityName]] = {
    "policy_store": "policies",
    "policy": "policies",
    "policies": "policies",
    "audit_sink": "audit",
    "audit": "audit",
    "session_store": "sessions",
    "session": "sessions",
    "sessions": "sessions",
    "credential_store": "credentials",
    "credential": "credentials",
    "credentials": "credentials",
    "rate_limit_counter": "rate_limits",
    "rate_limit": "rate_limits",
    "rate_limits": "rate_limits",
    "lifecycle_store": "lifecycle",
    "lifecycle": "lifecycle",
    "generations": "generations",
    "logs": "logs",
}
"""Every key of ``[storage]`` that names a driver, and the capability it routes."""

AA_STORAGE_KEYS: Final = (
    "policy_store",
    "audit_sink",
    "session_store",
    "credential_store",
    "rate_limit_counter",
    "lifecycle_store",
)
"""The six keys aa-storage itself writes."""


def names_a_kind(table: Mapping[str, Any]) -> bool:
    """Whether a ``[storage]`` table is aa-storage's: it names the driver of a storage kind,
    or has a key that is a near miss of one (a typo to report, not a table to ignore)."""
    return any(
        key in KIND_KEYS or (not isinstance(value, Mapping) and did_you_mean(key, KIND_KEYS))
        for key, value in table.items()
    )


@dataclass
class StorageTable:
    """A ``[storage]`` table as a policy's parts, and where each part was written.

    Attributes:
        backend: the driver of every capability the table does not route elsewhere.
        capabilities: the capabilities routed to another driver than ``backend``.
        sections: the ``[storage.<driver>]`` tables, by driver name.
        paths: the TOML path of each part as written, keyed by its ``store.`` path.
    """

    backend: str
    capabilities: dict[str, str] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


def read_storage(table: object, default_backend: str) -> StorageTable:
    """The policy parts of aa-storage's ``[storage]`` table.

    Raises:
        InvalidPolicy: a key that names no storage kind (with the valid keys and a
            did-you-mean), a driver name that is not a string, two keys for one kind.
    """
    if not isinstance(table, Mapping):
        raise InvalidPolicy("must be a table: write [storage]", path="storage")
    routes: dict[CapabilityName, tuple[str, str]] = {}
    sections: dict[str, Any] = {}
    for key, value in table.items():
        path = f"storage.{key}"
        if isinstance(value, Mapping):
            if key in KIND_KEYS:
                raise InvalidPolicy(
                    f'[storage.{key}] is a storage kind, not a driver: write {key} = "DRIVER" '
                    "under [storage]",
                    path=path,
                )
            sections[key] = value
            continue
        if key not in KIND_KEYS:
            raise InvalidPolicy(
                f"unknown key {key!r} in [storage]{did_you_mean(key, KIND_KEYS)} (aa-storage's "
                f"keys are {', '.join(AA_STORAGE_KEYS)}; generations and logs are accepted "
                "too; settings go in a [storage.<driver>] table)",
                path=path,
            )
        if not isinstance(value, str) or not value:
            raise InvalidPolicy("must be a string naming a driver", path=path)
        cap = KIND_KEYS[key]
        if cap in routes:
            raise InvalidPolicy(
                f"{routes[cap][0]} and {key} both name the driver of {cap}; keep one", path=path
            )
        routes[cap] = (key, value)
    chosen = routes.get("logs") or routes.get("audit")
    backend = chosen[1] if chosen else default_backend
    result = StorageTable(backend=backend, sections=sections)
    result.paths["store.backend"] = f"storage.{chosen[0]}" if chosen else "storage"
    result.paths["store.capabilities"] = "storage"
    for cap, (key, driver) in routes.items():
        result.paths[f"store.capabilities.{cap}"] = f"storage.{key}"
        if driver != backend:
            result.capabilities[cap] = driver
    for name in sections:
        result.paths[f"store.{name}"] = f"storage.{name}"
    return result


__all__ = ["AA_STORAGE_KEYS", "KIND_KEYS", "StorageTable", "names_a_kind", "read_storage"]
