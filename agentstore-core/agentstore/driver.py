"""Everything a driver author needs, in one import; nothing here is private.

A driver distribution declares itself in a plugin module that imports nothing heavy::

    from agentstore.driver import DriverSpec, hookimpl

    @hookimpl
    def register_drivers(register):
        register(DriverSpec(name="mydriver", open="mydriver.stores:open_driver",
                            capabilities={"generations", "logs"},
                            conformance="mydriver.conformance:SUPPORT"))

and implements the capability ABCs below in the module ``open`` names. The names here are
re-exported from where they are defined; this module defines nothing of its own.
:class:`ConformanceSupport` and :data:`Section` are loaded on first use, so importing this
module does not import the conformance suite (nor pytest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentstore._env_refs import resolve_env
from agentstore.audit import AUDIT_STREAM, AUDIT_WRITER, LogAuditSink
from agentstore.capabilities import (
    CAPABILITIES,
    AuditSink,
    CapabilityName,
    Clock,
    CredentialStore,
    GenerationStore,
    LifecycleStore,
    PolicyStore,
    RateLimitCounter,
    SessionStore,
    WriterLogStore,
)
from agentstore.chain import ChainRow, Head, chain_hash, check_head, verify_rows
from agentstore.checks import (
    MAX_INT,
    MAX_NAME_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_SECRET_BYTES,
    RESERVED_PREFIX,
    check_int,
    check_name,
    check_payload,
    check_seconds,
    check_stream,
)
from agentstore.doorbell import Doorbell
from agentstore.errors import (
    BackendUnavailable,
    ChainBroken,
    ConfigError,
    Conflict,
    InvalidInput,
    NonMonotonicGeneration,
    NotFound,
    SchemaVersionError,
    StoreError,
    StoreNotFound,
    Unsupported,
    native_error,
)
from agentstore.hookspecs import hookimpl
from agentstore.ratelimit import FixedCount, RateLimitResult, SlidingCount, SlidingWindow
from agentstore.redact import redact
from agentstore.spec import DriverSpec, DriverStores, NoConfig, OpenContext, Opener
from agentstore.translate import DriverCall
from agentstore.types import (
    AgentId,
    AgentInfo,
    AuditEntry,
    AuditRecord,
    CommitEvent,
    Entry,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

if TYPE_CHECKING:
    from agentstore.conformance.support import ConformanceSupport, Section, TamperRefused

# Loaded on first use: the conformance package imports the store facade and, for its
# pytest plugin, pytest; a driver's plugin module must stay cheap to import.
_LAZY = {
    "ConformanceSupport": "agentstore.conformance.support",
    "Section": "agentstore.conformance.support",
    "TamperRefused": "agentstore.conformance.support",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AUDIT_STREAM",
    "AUDIT_WRITER",
    "CAPABILITIES",
    "MAX_INT",
    "MAX_NAME_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SECRET_BYTES",
    "RESERVED_PREFIX",
    "AgentId",
    "AgentInfo",
    "AuditEntry",
    "AuditRecord",
    "AuditSink",
    "BackendUnavailable",
    "CapabilityName",
    "ChainBroken",
    "ChainRow",
    "Clock",
    "CommitEvent",
    "ConfigError",
    "Conflict",
    "ConformanceSupport",
    "CredentialStore",
    "Doorbell",
    "DriverCall",
    "DriverSpec",
    "DriverStores",
    "Entry",
    "FixedCount",
    "GenerationStore",
    "Head",
    "InvalidInput",
    "LifecycleStore",
    "LogAuditSink",
    "NoConfig",
    "NonMonotonicGeneration",
    "NotFound",
    "OpenContext",
    "Opener",
    "PolicyDocument",
    "PolicyStore",
    "RateLimitCounter",
    "RateLimitResult",
    "SchemaVersionError",
    "Section",
    "SessionId",
    "SessionRecord",
    "SessionStore",
    "SlidingCount",
    "SlidingWindow",
    "StoreError",
    "StoreNotFound",
    "TamperRefused",
    "Unsupported",
    "WriterLogStore",
    "chain_hash",
    "check_head",
    "check_int",
    "check_name",
    "check_payload",
    "check_seconds",
    "check_stream",
    "hookimpl",
    "native_error",
    "redact",
    "resolve_env",
    "verify_rows",
]
