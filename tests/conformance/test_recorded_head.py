"""WriterLogStore's default verify checks a driver's recorded head (``_recorded_head``).

A driver that records each log's head with every append, and returns it from
``_recorded_head``, is tamper-evident against truncation without writing a verify of its
own: the whole log contract passes, tamper tests included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentstore
import pytest
from agentstore import ChainBroken, Registry, StorePolicy
from agentstore.conformance import (
    AuditSinkContract,
    ConformanceSupport,
    WriterLogContract,
    tamper_via_log_store,
)
from agentstore.driver import DriverSpec, DriverStores, LogAuditSink, OpenContext
from agentstore_memory import open_memory
from mutant_drivers import HeadedLog, TruncatableLog
from pydantic import BaseModel, ConfigDict

_LOGS: dict[str, HeadedLog] = {}


class _Key(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str


def _open(config: _Key, context: OpenContext) -> DriverStores:
    stores = open_memory(context)
    logs = _LOGS.setdefault(config.key, HeadedLog())  # persists across opens of one key
    stores.logs = logs if "logs" in context.capabilities else None
    stores.audit = LogAuditSink(logs) if "audit" in context.capabilities else None
    return stores


REGISTRY = Registry(load_entry_points=False)
REGISTRY.register(DriverSpec(name="headed", open=_open, config_model=_Key))


class _Headed:
    registry = REGISTRY
    conformance = ConformanceSupport(persistent=True, tamper=tamper_via_log_store)

    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> Iterator[StorePolicy]:
        yield StorePolicy("headed", sections={"headed": {"key": str(tmp_path)}})
        _LOGS.pop(str(tmp_path), None)


class TestHeadedLogContract(_Headed, WriterLogContract):
    pass


class TestHeadedAuditContract(_Headed, AuditSinkContract):
    pass


def _written(log: Any) -> None:
    log._append_many("s", "w", [b"1", b"2", b"3"])


def test_default_verify_catches_truncation_given_a_recorded_head() -> None:
    log = HeadedLog()
    _written(log)
    log.tamper("s", "w", 3, None)
    with pytest.raises(ChainBroken) as info:
        log._verify("s", "w")
    assert (info.value.seq, info.value.detail) == (3, "entry 3 missing: the log was truncated")


def test_default_verify_catches_entries_past_the_recorded_head() -> None:
    log = HeadedLog()
    _written(log)
    log._heads[("s", "w")] = (2, log._data[("s", "w")][1].content_hash)
    with pytest.raises(ChainBroken, match="lie past the log's recorded head") as info:
        log._verify("s", "w")
    assert info.value.seq == 3


def test_without_a_recorded_head_only_the_chain_is_checked() -> None:
    # What tamper_evident=False is for: the chain left after a truncation is valid.
    log = TruncatableLog()
    assert log._recorded_head("s", "w") is None
    _written(log)
    log.tamper("s", "w", 3, None)
    assert log._verify("s", "w") == 2


def test_the_public_verify_goes_through_it() -> None:
    store = agentstore.open(
        StorePolicy("headed", sections={"headed": {"key": "public"}}), registry=REGISTRY
    )
    try:
        log = store.log("s", writer="w")
        log.append_many([b"a", b"b"])
        _LOGS["public"].tamper("s", "w", 2, None)
        with pytest.raises(ChainBroken, match="truncated"):
            log.verify()
        assert ("s", "w") in store.logs()
    finally:
        store.close()
        _LOGS.pop("public", None)
