"""A driver's native exceptions never leak: each public call raises a StoreError instead.

The original stays reachable as ``__cause__``; the message names the failing call and the
native type, never the native text (it may hold a password or a credential).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import agentstore
import pytest
from agentstore import (
    AgentId,
    AuditEntry,
    PolicyDocument,
    SessionId,
    SessionRecord,
    Store,
    StoreError,
    StorePolicy,
)
from core_drivers import FAULTY, SECRET, NativeError, private_registry


@pytest.fixture
def store() -> Iterator[Store]:
    with agentstore.open(StorePolicy("faulty"), registry=private_registry(FAULTY)) as s:
        yield s


AGENT = AgentId.new()
SESSION = SessionId.new()

CALLS: dict[str, Callable[[Store], Any]] = {
    "generation.current": lambda s: s.generation("g").current(),
    "generation.bump": lambda s: s.generation("g").bump(),
    "generation.advance_to": lambda s: s.generation("g").advance_to(3),
    "log.append": lambda s: s.log("st", writer="w").append(b"x"),
    "log.append_many": lambda s: s.log("st", writer="w").append_many([b"x", b"y"]),
    "log.head": lambda s: s.log("st", writer="w").head(),
    "log.entries": lambda s: list(s.log("st", writer="w").entries()),
    "log.verify": lambda s: s.log("st", writer="w").verify(),
    "logs": lambda s: s.logs(),
    "policies.put": lambda s: s.policies.put(AGENT, PolicyDocument({})),
    "policies.get": lambda s: s.policies.get(AGENT),
    "policies.invalidate": lambda s: s.policies.invalidate(AGENT),
    "audit.emit": lambda s: s.audit.emit(AuditEntry("a")),
    "audit.records": lambda s: list(s.audit.records()),
    "audit.verify": lambda s: s.audit.verify(),
    "sessions.save": lambda s: s.sessions.save(SessionRecord(SESSION, AGENT)),
    "sessions.load": lambda s: s.sessions.load(SESSION),
    "sessions.delete": lambda s: s.sessions.delete(SESSION),
    "credentials.put_secret": lambda s: s.credentials.put_secret("k", b"v"),
    "credentials.get_secret": lambda s: s.credentials.get_secret("k"),
    "credentials.delete_secret": lambda s: s.credentials.delete_secret("k"),
    "rate_limits.increment": lambda s: s.rate_limits.increment("k"),
    "rate_limits.current": lambda s: s.rate_limits.current("k"),
    "rate_limits.reset": lambda s: s.rate_limits.reset("k"),
    "rate_limits.hit": lambda s: s.rate_limits.hit("k", 5, 60),
    "rate_limits.hit sliding": lambda s: s.rate_limits.hit("k", 5, 60, strategy="sliding"),
    "rate_limits.window_stats": lambda s: s.rate_limits.window_stats("k", 5, 60),
    "rate_limits.window_stats sliding": (
        lambda s: s.rate_limits.window_stats("k", 5, 60, strategy="sliding")
    ),
    "lifecycle.register": lambda s: s.lifecycle.register(AGENT),
    "lifecycle.heartbeat": lambda s: s.lifecycle.heartbeat(AGENT),
    "lifecycle.deregister": lambda s: s.lifecycle.deregister(AGENT),
    "lifecycle.info": lambda s: s.lifecycle.info(AGENT),
    "lifecycle.live": lambda s: s.lifecycle.live(30),
}


@pytest.mark.parametrize("call", CALLS)
def test_native_error_becomes_store_error(store: Store, call: str) -> None:
    with pytest.raises(StoreError) as info:
        CALLS[call](store)
    err = info.value
    assert isinstance(err.__cause__, NativeError)
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert "NativeError" in str(err)


def test_validation_still_comes_first(store: Store) -> None:
    # Bad input is refused before the driver is reached: InvalidInput, no native cause.
    with pytest.raises(agentstore.InvalidInput) as info:
        store.log("st", writer="w").append("text")  # type: ignore[arg-type]
    assert info.value.__cause__ is None


def test_user_iterable_errors_are_not_blamed_on_the_driver() -> None:
    # An exception raised by the caller's own generator reaches the caller unchanged.
    def payloads() -> Iterator[bytes]:
        yield b"ok"
        raise LookupError("the caller's own bug")

    with agentstore.open(StorePolicy("memory"), registry=private_registry()) as s:
        with pytest.raises(LookupError, match="caller's own bug"):
            s.log("st", writer="w").append_many(payloads())
        assert s.log("st", writer="w").head() is None


def test_failing_clock_is_not_blamed_on_the_driver() -> None:
    def clock() -> float:
        raise OSError("the caller's clock")

    registry = private_registry()
    with (
        agentstore.open(StorePolicy("memory"), registry=registry, clock=clock) as s,
        pytest.raises(OSError, match="caller's clock"),
    ):
        s.rate_limits.increment("k")
