"""Driver ``kvmem`` for testing the key-value substrate: MemoryKeyValue shared by key.

Every store opened with the same ``[store.kvmem] key`` shares one MemoryKeyValue, as two
connections share one database, so the persistence and sharing contract tests run. Not a
real driver: nothing leaves the process, so the multi-process tests skip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from agentstore import Registry
from agentstore.conformance import ConformanceSupport
from agentstore.driver import DriverSpec, DriverStores, OpenContext
from agentstore.kv import MemoryKeyValue, open_kv_stores
from pydantic import BaseModel, ConfigDict

_SHARED: dict[str, MemoryKeyValue] = {}
_LOCK = threading.Lock()


class KvMemConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str


def shared(key: str) -> MemoryKeyValue:
    with _LOCK:
        return _SHARED.setdefault(key, MemoryKeyValue())


def open_kvmem(config: KvMemConfig, context: OpenContext) -> DriverStores:
    with _LOCK:
        kv = _SHARED.get(config.key)
        if kv is None and context.create:
            kv = _SHARED[config.key] = MemoryKeyValue()
    if kv is None:  # create=False on a key holding nothing: open_kv_stores refuses it
        kv = MemoryKeyValue()
    return open_kv_stores(kv, context, location=f"kvmem {config.key!r}")


def drop(key: str) -> None:
    with _LOCK:
        _SHARED.pop(key, None)


def fresh(section: Mapping[str, Any], tmp_path: Path) -> Iterator[Mapping[str, Any]]:
    key = str(tmp_path)
    yield {**section, "key": key}
    drop(key)


SUPPORT = ConformanceSupport(persistent=True, fresh_section=fresh)

KVMEM = DriverSpec(
    name="kvmem",
    open=open_kvmem,
    config_model=KvMemConfig,
    description="the key-value substrate on MemoryKeyValue shared by key (tests only)",
    conformance=f"{__name__}:SUPPORT",
)


def registry() -> Registry:
    """A registry holding only ``kvmem``."""
    reg = Registry(load_entry_points=False)
    reg.register(KVMEM)
    return reg
