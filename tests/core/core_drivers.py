"""Throwaway drivers for the core tests, registered in-process on a private Registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from agentstore import (
    AuditSink,
    CredentialStore,
    GenerationStore,
    LifecycleStore,
    PolicyStore,
    RateLimitCounter,
    Registry,
    SessionStore,
    WriterLogStore,
)
from agentstore.capabilities import CapabilityName
from agentstore.driver import DriverSpec, DriverStores, OpenContext
from agentstore.registry import NoConfig
from agentstore_memory import open_memory
from pydantic import BaseModel, ConfigDict

SECRET = "s3cr3t-from-the-driver"


class NativeError(Exception):
    """Stands for a database client's own exception (sqlite3.Error, psycopg.Error)."""


def _boom(*_: object, **__: object) -> NoReturn:
    raise NativeError(f"connection lost; password={SECRET}")


def _boom_iter(*_: object, **__: object) -> Iterator[Any]:
    _boom()
    yield  # a generator: it fails on first next(), as a streaming cursor would


class FaultyGenerations(GenerationStore):
    _current = _bump = _advance_to = _boom


class FaultyLogs(WriterLogStore):
    _append = _append_many = _head = _boom
    _entries = _logs = _boom_iter


class FaultyPolicies(PolicyStore):
    _put = _get = _invalidate = _boom


class FaultyAudit(AuditSink):
    _emit = _verify = _boom
    _records = _boom_iter


class FaultySessions(SessionStore):
    _save = _load = _delete = _boom


class FaultyCredentials(CredentialStore):
    _put_secret = _get_secret = _delete_secret = _boom


class FaultyRateLimits(RateLimitCounter):
    _increment = _current = _reset = _boom
    _hit_fixed = _fixed_window = _hit_sliding = _sliding_window = _boom


class FaultyLifecycle(LifecycleStore):
    _register = _heartbeat = _deregister = _info = _live_since = _boom


def open_faulty(config: Any, context: OpenContext) -> DriverStores:
    return DriverStores(
        generations=FaultyGenerations(),
        logs=FaultyLogs(),
        policies=FaultyPolicies(),
        audit=FaultyAudit(),
        sessions=FaultySessions(),
        credentials=FaultyCredentials(),
        rate_limits=FaultyRateLimits(context.clock),
        lifecycle=FaultyLifecycle(context.clock),
    )


FAULTY = DriverSpec(name="faulty", open=open_faulty, description="every call fails natively")


@dataclass
class Recorder:
    """Remembers which drivers were opened and closed, and with what."""

    events: list[str] = field(default_factory=list)
    contexts: list[OpenContext] = field(default_factory=list)
    configs: list[Any] = field(default_factory=list)


class UrlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = "mem://"
    port: int = 0


def recording_spec(
    name: str,
    recorder: Recorder,
    *,
    capabilities: Iterable[CapabilityName] | None = None,
    fail_open: Callable[[], NoReturn] | None = None,
    fail_close: bool = False,
    config_model: type[BaseModel] = NoConfig,
) -> DriverSpec:
    """A memory-backed driver that records open/close and can fail either."""

    def _open(config: Any, context: OpenContext) -> DriverStores:
        recorder.contexts.append(context)
        recorder.configs.append(config)
        if fail_open is not None:
            recorder.events.append(f"open-failed {name}")
            fail_open()
        recorder.events.append(f"open {name}")
        stores = open_memory(context)

        def close() -> None:
            recorder.events.append(f"close {name}")
            if fail_close:
                raise NativeError(f"close failed; password={SECRET}")

        stores.close = close
        return stores

    kwargs: dict[str, Any] = {}
    if capabilities is not None:
        kwargs["capabilities"] = frozenset(capabilities)
    return DriverSpec(name=name, open=_open, config_model=config_model, **kwargs)


def private_registry(*specs: DriverSpec, memory: bool = True) -> Registry:
    """A Registry that ignores entry points, holding ``specs`` (and memory by default)."""
    registry = Registry(load_entry_points=False)
    if memory:
        import agentstore_memory.plugin

        registry.register_plugin(agentstore_memory.plugin)
    for spec in specs:
        registry.register(spec)
    return registry


__all__ = [
    "FAULTY",
    "SECRET",
    "NativeError",
    "Recorder",
    "UrlConfig",
    "private_registry",
    "recording_spec",
]
