"""OpenTelemetry spans and metrics for agentstore, opt-in: ``agentstore.instrument()``.

Needs the ``otel`` extra (``pip install "agentstore-core[otel]"``, which brings
``opentelemetry-api``); an SDK and exporters are the application's to configure, as for
any instrumented library. Nothing here is imported, and nothing costs anything, until
:func:`instrument` is called: it swaps the public methods of the capability classes and
handles for traced ones, and :func:`uninstrument` puts the originals back.

Spans (kind CLIENT) follow OpenTelemetry's database semantic conventions: named
``"{db.operation.name} {db.collection.name}"`` (``"append logs"``, ``"put_secret
credentials"``), with ``db.system`` and ``db.system.name`` the driver serving the call,
``db.operation.name`` the method, ``db.collection.name`` the capability, and
``agentstore.stream`` / ``agentstore.writer`` / ``agentstore.generation`` where a call names
them; a batch carries ``db.operation.batch.size``. ``agentstore.open`` has its span
(``"open agentstore"``) too. A failed call sets the span's status to ERROR and
``error.type`` to the exception's class; no exception message or traceback is recorded.
Never a payload, a secret, a credential's name, a rate-limit key or a setting's value.

Metrics: ``agentstore.appends`` (entries appended, by log and audit),
``agentstore.verified_entries`` (entries ``verify()`` checked), ``agentstore.errors``
(failed calls, by ``error.type``) and ``db.client.operation.duration`` (seconds), each
with ``db.system``, ``db.operation.name`` and ``db.collection.name``.

Streaming reads (``WriterLog.entries``, ``AuditSink.records``) and the asyncio face's native
calls (postgres and memory under :mod:`agentstore.aio`) have no span; bridged asyncio calls
run the traced synchronous methods on the store's threads.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        'agentstore.instrument() needs OpenTelemetry\'s API: pip install "agentstore-core[otel]"'
    ) from exc

import agentstore.store as _store
from agentstore.capabilities import (
    AuditSink,
    CredentialStore,
    GenerationStore,
    LifecycleStore,
    PolicyStore,
    RateLimitCounter,
    SessionStore,
)
from agentstore.handles import Generation, WriterLog
from agentstore.ratelimit import RateLimits

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

SCOPE: Final = "agentstore"
"""The instrumentation scope name of every span and metric."""

Attrs = Callable[[Any, tuple[Any, ...]], dict[str, str]]

_LOG_ATTRS: Attrs = lambda handle, _: {  # noqa: E731
    "agentstore.stream": handle.stream,
    "agentstore.writer": handle.writer,
}
_GENERATION_HANDLE: Attrs = lambda handle, _: {"agentstore.generation": handle.name}  # noqa: E731
_GENERATION_NAMED: Attrs = lambda _, args: (  # noqa: E731
    {"agentstore.generation": args[0]} if args and isinstance(args[0], str) else {}
)

# (class, method, capability, what to count, attributes the call names)
_TRACED: Final[tuple[tuple[type, str, str, str | None, Attrs | None], ...]] = (
    (WriterLog, "append", "logs", "appends", _LOG_ATTRS),
    (WriterLog, "append_many", "logs", "appends", _LOG_ATTRS),
    (WriterLog, "verify", "logs", "verified", _LOG_ATTRS),
    (WriterLog, "head", "logs", None, _LOG_ATTRS),
    (WriterLog, "redact", "logs", None, _LOG_ATTRS),
    (Generation, "current", "generations", None, _GENERATION_HANDLE),
    (Generation, "bump", "generations", None, _GENERATION_HANDLE),
    (Generation, "advance_to", "generations", None, _GENERATION_HANDLE),
    (GenerationStore, "current", "generations", None, _GENERATION_NAMED),
    (GenerationStore, "bump", "generations", None, _GENERATION_NAMED),
    (GenerationStore, "advance_to", "generations", None, _GENERATION_NAMED),
    (PolicyStore, "put", "policies", None, None),
    (PolicyStore, "get", "policies", None, None),
    (PolicyStore, "invalidate", "policies", None, None),
    (AuditSink, "emit", "audit", "appends", None),
    (AuditSink, "verify", "audit", "verified", None),
    (SessionStore, "save", "sessions", None, None),
    (SessionStore, "load", "sessions", None, None),
    (SessionStore, "delete", "sessions", None, None),
    (SessionStore, "purge_expired", "sessions", None, None),
    (CredentialStore, "put_secret", "credentials", None, None),
    (CredentialStore, "get_secret", "credentials", None, None),
    (CredentialStore, "delete_secret", "credentials", None, None),
    (RateLimitCounter, "increment", "rate_limits", None, None),
    (RateLimitCounter, "current", "rate_limits", None, None),
    (RateLimitCounter, "reset", "rate_limits", None, None),
    (RateLimits, "hit", "rate_limits", None, None),
    (RateLimits, "window_stats", "rate_limits", None, None),
    (LifecycleStore, "register", "lifecycle", None, None),
    (LifecycleStore, "heartbeat", "lifecycle", None, None),
    (LifecycleStore, "deregister", "lifecycle", None, None),
    (LifecycleStore, "info", "lifecycle", None, None),
    (LifecycleStore, "live", "lifecycle", None, None),
    (LifecycleStore, "prune", "lifecycle", None, None),
)
TRACED: Final = tuple((cls, name) for cls, name, *_ in _TRACED)
"""Every ``(class, method)`` :func:`instrument` traces."""

_lock = threading.Lock()
_originals: dict[tuple[type, str], Any] = {}


class _Instruments:
    """The tracer and the metric instruments of one :func:`instrument` call."""

    def __init__(
        self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None
    ) -> None:
        version = importlib.metadata.version("agentstore-core")
        self.tracer = trace.get_tracer(SCOPE, version, tracer_provider)
        meter = metrics.get_meter(SCOPE, version, meter_provider)
        self.appends = meter.create_counter(
            "agentstore.appends", unit="{entry}", description="Entries appended to chained logs"
        )
        self.verified = meter.create_counter(
            "agentstore.verified_entries",
            unit="{entry}",
            description="Entries checked by verify()",
        )
        self.errors = meter.create_counter(
            "agentstore.errors", unit="{error}", description="Calls that raised"
        )
        self.duration = meter.create_histogram(
            "db.client.operation.duration", unit="s", description="Duration of agentstore calls"
        )


def _driver_of(obj: object) -> str:
    target = getattr(obj, "_store", obj)  # a handle: the capability object it calls
    try:
        return _store.DRIVER_OF.get(target, "unknown")
    except TypeError:
        return "unknown"


def _traced(
    kit: _Instruments,
    original: Callable[..., Any],
    *,
    op: str,
    collection: str,
    counts: str | None,
    named: Attrs | None,
) -> Callable[..., Any]:
    span_name = f"{op} {collection}"

    @functools.wraps(original)
    def traced(self: object, *args: Any, **kwargs: Any) -> Any:
        driver = _driver_of(self)
        base = {
            "db.system": driver,
            "db.system.name": driver,
            "db.operation.name": op,
            "db.collection.name": collection,
        }
        attributes: dict[str, Any] = dict(base)
        if named is not None:
            attributes.update(named(self, args))
        started = time.perf_counter()
        with kit.tracer.start_as_current_span(
            span_name,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = original(self, *args, **kwargs)
            except BaseException as exc:
                _failed(kit, span, base, exc, started)
                raise
            if counts == "appends":
                size = len(result) if isinstance(result, list) else 1
                if isinstance(result, list):
                    span.set_attribute("db.operation.batch.size", size)
                kit.appends.add(size, base)
            elif counts == "verified":
                kit.verified.add(int(result), base)
            kit.duration.record(time.perf_counter() - started, base)
            return result

    return traced


def _failed(
    kit: _Instruments, span: Any, base: dict[str, str], exc: BaseException, started: float
) -> None:
    kind = type(exc).__qualname__
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR, kind))
    labels = {**base, "error.type": kind}
    kit.errors.add(1, labels)
    kit.duration.record(time.perf_counter() - started, labels)


def _traced_open(kit: _Instruments) -> Callable[..., Any]:
    base = {"db.operation.name": "open", "db.collection.name": "agentstore"}

    def traced_open(open_: Callable[..., _store.Store], *args: Any) -> _store.Store:
        started = time.perf_counter()
        with kit.tracer.start_as_current_span(
            "open agentstore",
            kind=SpanKind.CLIENT,
            attributes=base,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                opened = open_(*args)
            except BaseException as exc:
                _failed(kit, span, base, exc, started)
                raise
            drivers = sorted(set(opened.routes.values()))
            system = opened.policy.backend if opened.policy.backend in drivers else drivers[0]
            labels = {**base, "db.system": system, "db.system.name": system}
            span.set_attributes({**labels, "agentstore.drivers": drivers})
            kit.duration.record(time.perf_counter() - started, labels)
            return opened

    return traced_open


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> None:
    """Trace and measure every agentstore call from now on, in every store.

    Uses the global tracer and meter providers unless given others. Calling it again
    first undoes the previous call (so the providers can change); :func:`uninstrument`
    undoes it. Stores opened before the call are traced too; their spans' ``db.system``
    is ``unknown`` only for objects opened by a store the registry never saw.
    """
    kit = _Instruments(tracer_provider, meter_provider)
    with _lock:
        _restore()
        for cls, name, collection, counts, named in _TRACED:
            original = cls.__dict__[name]
            _originals[(cls, name)] = original
            traced = _traced(
                kit, original, op=name, collection=collection, counts=counts, named=named
            )
            setattr(cls, name, traced)
        _store.traced_open = _traced_open(kit)


def uninstrument() -> None:
    """Put the original, untraced methods back. Idempotent."""
    with _lock:
        _restore()


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return bool(_originals)


def _restore() -> None:
    for (cls, name), original in _originals.items():
        setattr(cls, name, original)
    _originals.clear()
    _store.traced_open = None


__all__ = ["SCOPE", "TRACED", "instrument", "is_instrumented", "uninstrument"]
