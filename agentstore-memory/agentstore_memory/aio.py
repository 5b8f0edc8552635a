"""The memory driver, native to asyncio (imported only by ``agentstore.aio``).

Its calls are in memory and quick, so they run directly on the event loop, with no hop to
a thread. What would hold the loop up goes to the async store's threads instead: verifying
a chain, and hashing a large batch (or a large payload), whose entries are then committed
on the loop in one step after checking that no other append came first.
"""

from __future__ import annotations

from typing import Final

from agentstore.aio._driver import AsyncDriverStores, NativeKit
from agentstore.aio._threads import Runner
from agentstore.aio.governance import (
    BridgedAuditSink,
    BridgedCredentialStore,
    BridgedLifecycleStore,
    BridgedPolicyStore,
    BridgedRateLimitCounter,
    BridgedSessionStore,
)
from agentstore.aio.handles import BridgedGenerationStore, BridgedLogStore
from agentstore.capabilities import check_payload
from agentstore.chain import chain_hash
from agentstore.doorbell import Doorbell
from agentstore.handles import event_of
from agentstore.registry import DriverStores
from agentstore.types import Entry

from agentstore_memory.stores import MemoryLogStore

INLINE_BYTES: Final = 64 * 1024
"""Payload bytes an append may hash on the loop; more are hashed on a thread."""
INLINE_ENTRIES: Final = 64
"""Entries a batch may hash on the loop; more are hashed on a thread."""


def chain_entries(
    stream: str, writer: str, head: tuple[int, bytes | None], payloads: list[bytes]
) -> list[Entry]:
    """``payloads`` chained after ``head`` (run on a thread for large batches)."""
    seq, prev = head
    out: list[Entry] = []
    for payload in payloads:
        seq += 1
        digest = chain_hash(prev, payload)
        out.append(Entry(stream, writer, seq, payload, prev, digest))
        prev = digest
    return out


class MemoryAsyncLogStore(BridgedLogStore):
    """Memory logs on the loop; large batches hashed on a thread, committed on the loop."""

    def __init__(self, logs: MemoryLogStore, doorbell: Doorbell, runner: Runner) -> None:
        super().__init__(logs, doorbell, runner)
        self._logs = logs

    async def append(self, stream: str, writer: str, payload: bytes) -> Entry:
        if type(payload) is bytes and len(payload) <= INLINE_BYTES:
            return await super().append(stream, writer, payload)
        return (await self._append_hashed(stream, writer, [check_payload(payload)]))[0]

    async def append_many(self, stream: str, writer: str, payloads: list[bytes]) -> list[Entry]:
        checked = [check_payload(p, f"payload #{i}") for i, p in enumerate(payloads)]
        if not checked:
            return []
        if len(checked) <= INLINE_ENTRIES and sum(map(len, checked)) <= INLINE_BYTES:
            return await self._run.call(self._append_many_now, stream, writer, checked)
        return await self._append_hashed(stream, writer, checked)

    async def _append_hashed(self, stream: str, writer: str, payloads: list[bytes]) -> list[Entry]:
        logs, run = self._logs, self._run
        while True:
            run.offload.check()
            head = logs._recorded_head(stream, writer)
            entries = await run.heavy(chain_entries, stream, writer, head, payloads)
            # No await from here to the ring: a cancelled task commits all of it or nothing.
            placed = logs._commit_after(stream, writer, head, entries)
            if placed is not None:
                break
        bell = self._bell
        if bell._subs:
            for e in placed:
                bell.ring(event_of(e))
        return placed


async def open_native(stores: DriverStores, kit: NativeKit) -> AsyncDriverStores:
    """The memory driver's stores, run on the loop (see the module docstring)."""
    run = Runner(kit.offload, inline=True)
    native = AsyncDriverStores()
    if stores.generations is not None:
        native.generations = BridgedGenerationStore(stores.generations, run)
    if isinstance(stores.logs, MemoryLogStore):
        native.logs = MemoryAsyncLogStore(stores.logs, kit.doorbell, run)
    if stores.policies is not None:
        native.policies = BridgedPolicyStore(stores.policies, run)
    if stores.audit is not None:
        native.audit = BridgedAuditSink(stores.audit, run)
    if stores.sessions is not None:
        native.sessions = BridgedSessionStore(stores.sessions, run)
    if stores.credentials is not None:
        native.credentials = BridgedCredentialStore(stores.credentials, run)
    if stores.rate_limits is not None:
        native.rate_limits = BridgedRateLimitCounter(stores.rate_limits, run)
    if stores.lifecycle is not None:
        native.lifecycle = BridgedLifecycleStore(stores.lifecycle, run)
    return native


__all__ = ["INLINE_BYTES", "INLINE_ENTRIES", "MemoryAsyncLogStore", "chain_entries", "open_native"]
