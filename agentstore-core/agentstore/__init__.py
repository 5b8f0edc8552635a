"""agentstore: a causal-ordered, pluggable store substrate for agent systems.

.. code-block:: python

    import agentstore

    with agentstore.open() as store:
        store.generation("report").bump()
        entry = store.log("conv:demo", writer="alice").append(b"hello world")
"""

from typing import TYPE_CHECKING, Any, Final

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
from agentstore.chain import Verified, chain_hash
from agentstore.doorbell import Doorbell, Subscription
from agentstore.errors import (
    BackendUnavailable,
    ChainBroken,
    ConfigError,
    Conflict,
    DecryptionFailed,
    DuplicateDriver,
    EventsMissed,
    HeadMoved,
    InvalidInput,
    InvalidPolicy,
    KeyFileUnavailable,
    MissingCapability,
    MissingDriverSection,
    MissingEnvironmentVariable,
    NonMonotonicGeneration,
    NotFound,
    SchemaVersionError,
    StoreError,
    StoreNotFound,
    UnknownDriver,
    Unsupported,
)
from agentstore.handles import Generation, StreamView, WriterLog
from agentstore.policy import StorePolicy
from agentstore.ratelimit import RateLimitResult
from agentstore.registry import Registry, default_registry
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


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Emit OpenTelemetry spans and metrics for every agentstore call from now on.

    Opt-in, as OpenTelemetry's instrumentors are: installing ``agentstore-core[otel]``
    changes nothing until this is called, and an uninstrumented process imports no
    ``opentelemetry`` module and pays nothing per call. See :mod:`agentstore.otel`.

    Raises:
        ImportError: ``opentelemetry-api`` is not installed (naming the ``pip install``).
    """
    from agentstore.otel import instrument as start

    start(tracer_provider=tracer_provider, meter_provider=meter_provider)


def uninstrument() -> None:
    """Undo :func:`instrument` (nothing is imported if it was never called)."""
    import sys

    otel = sys.modules.get("agentstore.otel")
    if otel is not None:
        otel.uninstrument()


if TYPE_CHECKING:  # explicit re-exports, so code type-checked against older releases passes
    from agentstore.driver import DriverSpec as DriverSpec
    from agentstore.driver import DriverStores as DriverStores
    from agentstore.driver import LogAuditSink as LogAuditSink
    from agentstore.driver import OpenContext as OpenContext
    from agentstore.driver import hookimpl as hookimpl
    from agentstore.driver import verify_rows as verify_rows

# Names for driver authors, once exported here too: still importable from ``agentstore``
# (a driver written against an earlier release keeps working), with a DeprecationWarning
# naming their home, ``agentstore.driver``.
_DRIVER_NAMES: Final = frozenset(
    {"DriverSpec", "DriverStores", "LogAuditSink", "OpenContext", "hookimpl", "verify_rows"}
)


def __getattr__(name: str) -> Any:
    if name not in _DRIVER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import sys
    import warnings

    from agentstore import driver

    # ``from agentstore import X`` looks X up twice, first from importlib's own frame:
    # warn once, at the importing line.
    if sys._getframe(1).f_globals.get("__name__") == "importlib._bootstrap":
        return getattr(driver, name)
    warnings.warn(
        f"agentstore.{name} is for driver authors and has moved: "
        f"import it from agentstore.driver instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(driver, name)


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
    "DecryptionFailed",
    "Doorbell",
    "DuplicateDriver",
    "Entry",
    "EventsMissed",
    "Fingerprint",
    "Generation",
    "GenerationStore",
    "HeadMoved",
    "InvalidInput",
    "InvalidPolicy",
    "KeyFileUnavailable",
    "LifecycleStore",
    "MissingCapability",
    "MissingDriverSection",
    "MissingEnvironmentVariable",
    "NonMonotonicGeneration",
    "NotFound",
    "PolicyDocument",
    "PolicyStore",
    "RateLimitCounter",
    "RateLimitResult",
    "Registry",
    "SchemaVersionError",
    "SessionId",
    "SessionRecord",
    "SessionStore",
    "Store",
    "StoreError",
    "StoreNotFound",
    "StorePolicy",
    "StreamView",
    "Subscription",
    "UnknownDriver",
    "Unsupported",
    "Verified",
    "WriterLog",
    "WriterLogStore",
    "chain_hash",
    "default_registry",
    "instrument",
    "open",
    "uninstrument",
]
