"""Under the async face, sqlite's verify of a long chain is left to worker processes."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import agentstore
import agentstore.aio
import pytest
from agentstore import ChainBroken, StoreError, StoreNotFound, StorePolicy
from agentstore_sqlite.aio import SqliteAsyncLogStore
from agentstore_sqlite.logs import SqliteLogStore


def test_async_verify_checks_a_long_chain_in_worker_processes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = StorePolicy("sqlite", sections={"sqlite": {"path": str(tmp_path / "s.db")}})
    entries = SqliteLogStore.SNAPSHOT_MIN_ENTRIES + 5
    with agentstore.open(policy) as sync:
        sync.log("s", writer="w").append_many([b"x"] * entries)
    here: list[int] = []
    spawned: list[bool] = []
    check_here = SqliteLogStore._check_here
    with_workers = SqliteLogStore._check_with_workers

    def spy_here(self: SqliteLogStore, check: Any) -> Any:
        here.append(threading.get_ident())
        return check_here(self, check)

    def spy_workers(self: SqliteLogStore, *args: Any, **kwargs: Any) -> Any:
        spawned.append(kwargs.get("here", True))
        return with_workers(self, *args, **kwargs)

    monkeypatch.setattr(SqliteLogStore, "_check_here", spy_here)
    monkeypatch.setattr(SqliteLogStore, "_check_with_workers", spy_workers)

    async def main() -> None:
        async with agentstore.aio.open(policy) as store:
            assert isinstance(store._caps["logs"], SqliteAsyncLogStore)
            log = store.log("s", writer="w")
            assert await log.verify() == entries
            store.sync._cap("logs").tamper("s", "w", 7, None)
            with pytest.raises(ChainBroken) as info:
                await log.verify()
            assert info.value.seq == 7

    asyncio.run(main())
    assert here == []  # this process checked no chunk
    assert spawned and spawned[0] is False


def test_a_read_only_async_open_reads_refuses_writes_and_changes_no_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ro.db"
    policy = StorePolicy("sqlite", sections={"sqlite": {"path": str(path)}})
    with agentstore.open(policy) as store:
        store.log("conv", writer="w").append_many([b"a", b"b"])
    before = path.read_bytes()

    async def main() -> None:
        async with agentstore.aio.open(policy, read_only=True) as store:
            log = store.log("conv", writer="w")
            assert [e.payload async for e in log.entries()] == [b"a", b"b"]
            assert await log.verify() == 2
            with pytest.raises(StoreError, match="read-only"):
                await log.append(b"c")

    asyncio.run(main())
    assert path.read_bytes() == before
    with pytest.raises(StoreNotFound):
        asyncio.run(
            agentstore.aio.open(
                StorePolicy("sqlite", sections={"sqlite": {"path": str(tmp_path / "absent.db")}}),
                read_only=True,
            ).__aenter__()
        )
    assert not (tmp_path / "absent.db").exists()
