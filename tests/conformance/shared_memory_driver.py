"""A persistent in-process driver for testing the suite: memory state shared by ``key``.

Every store opened with the same ``[store.shared] key`` sees the same data, as two
connections to one database would, so the persistence and sharing contract tests run.
The state keeps the clock of the first open of its key. Not a real driver: nothing
leaves the process, so the multi-process tests skip.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from agentstore import CAPABILITIES, StoreNotFound, WriterLogStore
from agentstore.conformance import ConformanceSupport, tamper_via_log_store
from agentstore.driver import DriverSpec, DriverStores, LogAuditSink, OpenContext, hookimpl
from agentstore_memory import open_memory
from agentstore_memory.stores import _Lifetime
from pydantic import BaseModel, ConfigDict

_STATE: dict[str, DriverStores] = {}
_LOCK = threading.Lock()


class SharedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str


def open_shared(config: SharedConfig, context: OpenContext) -> DriverStores:
    with _LOCK:
        state = _STATE.get(config.key)
        if state is None and not context.create:
            raise StoreNotFound(f"no shared store under key {config.key!r}")
        if state is None:
            full = OpenContext(capabilities=frozenset(CAPABILITIES), clock=context.clock)
            state = _STATE[config.key] = open_memory(full)
    # Each open sees the shared data through stores of its own, which its close closes, as
    # a real driver's connection would be.
    life = _Lifetime()

    def view(store: object) -> Any:
        mine = copy.copy(store)
        mine._life = life  # type: ignore[attr-defined]
        return mine

    picked: dict[str, Any] = {
        c: view(getattr(state, c)) if c in context.capabilities else None for c in CAPABILITIES
    }
    if picked["audit"] is not None:
        assert isinstance(state.logs, WriterLogStore)
        picked["audit"] = LogAuditSink(view(state.logs))

    def close() -> None:
        life.closed = True

    return DriverStores(**picked, close=close)


def drop(key: str) -> None:
    with _LOCK:
        _STATE.pop(key, None)


def fresh(section: Mapping[str, Any], tmp_path: Path) -> Iterator[Mapping[str, Any]]:
    key = str(tmp_path)
    yield {**section, "key": key}
    drop(key)


SUPPORT = ConformanceSupport(persistent=True, fresh_section=fresh, tamper=tamper_via_log_store)

SHARED = DriverSpec(
    name="shared",
    open=open_shared,
    config_model=SharedConfig,
    description="memory shared by key (tests only)",
    conformance=f"{__name__}:SUPPORT",
)


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(SHARED)
