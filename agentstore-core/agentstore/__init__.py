"""agentstore: a causal-ordered, pluggable store substrate for agent systems.

.. code-block:: python

    import agentstore

    with agentstore.open() as store:
        store.generation("report").bump()
        entry = store.log("conv:demo", writer="alice").append(b"hello world")
"""

from agentstore.capabilities import (
    CAPABILITIES,
    AuditSink,
    CapabilityName,
    Clock,
    CredentialStore,
    Generation,
    GenerationStore,
    LifecycleStore,
    LogAuditSink,
    PolicyStore,
    RateLimitCounter,
    SessionStore,
    WriterLog,
    WriterLogStore,
)
from agentstore.chain import chain_hash, verify_rows
from agentstore.doorbell import Doorbell, Subscription
from agentstore.errors import (
    BackendUnavailable,
    ChainBroken,
    ConfigError,
    Conflict,
    DuplicateDriver,
    EventsMissed,
    InvalidInput,
    InvalidPolicy,
    MissingCapability,
    MissingDriverSection,
    MissingEnvironmentVariable,
    NonMonotonicGeneration,
    NotFound,
    SchemaVersionError,
    StoreError,
    StoreNotFound,
    UnknownDriver,
)
from agentstore.hookspecs import hookimpl
from agentstore.policy import StorePolicy
from agentstore.registry import DriverSpec, DriverStores, OpenContext, Registry, default_registry
from agentstore.store import Store, open
from agentstore.types import (
    AgentId,
    AgentInfo,
    AuditEntry,
    AuditRecord,
    CommitEvent,
    Entry,
    Fingerprint,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

__version__ = "0.1.0"

__all__ = [
    "CAPABILITIES",
    "AgentId",
    "AgentInfo",
    "AuditEntry",
    "AuditRecord",
    "AuditSink",
    "BackendUnavailable",
    "CapabilityName",
    "ChainBroken",
    "Clock",
    "CommitEvent",
    "ConfigError",
    "Conflict",
    "CredentialStore",
    "Doorbell",
    "DriverSpec",
    "DriverStores",
    "DuplicateDriver",
    "Entry",
    "EventsMissed",
    "Fingerprint",
    "Generation",
    "GenerationStore",
    "InvalidInput",
    "InvalidPolicy",
    "LifecycleStore",
    "LogAuditSink",
    "MissingCapability",
    "MissingDriverSection",
    "MissingEnvironmentVariable",
    "NonMonotonicGeneration",
    "NotFound",
    "OpenContext",
    "PolicyDocument",
    "PolicyStore",
    "RateLimitCounter",
    "Registry",
    "SchemaVersionError",
    "SessionId",
    "SessionRecord",
    "SessionStore",
    "Store",
    "StoreError",
    "StoreNotFound",
    "StorePolicy",
    "Subscription",
    "UnknownDriver",
    "WriterLog",
    "WriterLogStore",
    "chain_hash",
    "default_registry",
    "hookimpl",
    "open",
    "verify_rows",
]
