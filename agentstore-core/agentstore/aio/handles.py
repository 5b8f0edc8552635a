"""Generations and writer logs, awaited: :class:`AsyncGeneration` and :class:`AsyncWriterLog`.

The handles keep the synchronous contract (:class:`~agentstore.Generation`,
:class:`~agentstore.WriterLog`): same names, arguments, results and errors. They reach the
driver through an :class:`AsyncGenerationStore` / :class:`AsyncLogStore`, which is either
bridged (the synchronous store's calls on the async store's threads) or native.

Cancellation: a task cancelled while awaiting ``append`` or ``append_many`` leaves either
the whole append committed (visible in ``head()``, its doorbell rung) or nothing, never
part of a batch; the store stays usable. A call that had not started when the task was
cancelled never runs; one already running finishes its transaction (on its thread, or as
a task of its own) and its result is dropped. The task raises CancelledError only once
the append has ended either way, so ``head()`` read after it tells which happened.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from agentstore.aio._threads import Offload, Runner
from agentstore.aio.governance import PAGE, take_page
from agentstore.capabilities import (
    Generation,
    GenerationStore,
    WriterLog,
    WriterLogStore,
    check_int,
    check_name,
    check_payload,
    check_stream,
)
from agentstore.chain import Verified
from agentstore.checks import check_payloads
from agentstore.doorbell import Doorbell
from agentstore.errors import HeadMoved, StoreError, Unsupported
from agentstore.handles import check_expect_head, check_reason
from agentstore.types import Entry

if TYPE_CHECKING:
    from agentstore.aio.feed import AsyncFeedStore
    from agentstore.crypto.signing import TrustedKey

LOCK_STRIPES: Final = 64


@runtime_checkable
class AsyncGenerationStore(Protocol):
    """Named monotonic counters, awaited (what :class:`AsyncGeneration` calls)."""

    async def current(self, name: str) -> int: ...
    async def bump(self, name: str) -> int: ...
    async def advance_to(self, name: str, value: int) -> int: ...


@runtime_checkable
class AsyncLogStore(Protocol):
    """Writer logs, awaited (what :class:`AsyncWriterLog` calls).

    ``append`` and ``append_many`` ring the store's doorbell after the commit, in seq
    order per log, even when the awaiting task was cancelled meanwhile. Names are checked
    by the handle; payloads and ``after`` by the implementation.
    """

    async def append(self, stream: str, writer: str, payload: bytes) -> Entry: ...
    async def append_many(self, stream: str, writer: str, payloads: list[bytes]) -> list[Entry]: ...
    async def head(self, stream: str, writer: str) -> Entry | None: ...
    async def page(self, stream: str, writer: str, after: int, limit: int) -> list[Entry]: ...
    async def verify(self, stream: str, writer: str) -> int: ...
    async def logs(self) -> list[tuple[str, str]]: ...


class AsyncGeneration:
    """A handle on one named generation: ``store.generation(name)``, awaited."""

    __slots__ = ("_store", "name")

    def __init__(self, store: AsyncGenerationStore, name: str) -> None:
        self._store = store
        self.name = check_name(name, "generation name")

    async def current(self) -> int:
        """The current value (0 if never bumped)."""
        return await self._store.current(self.name)

    async def bump(self) -> int:
        """Atomically add one and return the new value (the first bump returns 1)."""
        return await self._store.bump(self.name)

    async def advance_to(self, value: int) -> int:
        """Move forward to ``value``; refuses to move backward (NonMonotonicGeneration)."""
        return await self._store.advance_to(self.name, check_int(value, "value", 0))

    def __repr__(self) -> str:
        return f"AsyncGeneration({self.name!r})"


class AsyncWriterLog:
    """One writer's chained log in one stream: ``store.log(stream, writer=...)``, awaited.

    The guarantees of :class:`~agentstore.WriterLog` hold: contiguous seqs from 1 under
    any number of concurrent tasks (and threads and processes), one transaction per
    ``append_many``, the doorbell rung after each commit. See the module docstring for
    what a cancelled append leaves.
    """

    __slots__ = ("_feed", "_offload", "_store", "_sync", "stream", "writer")

    def __init__(
        self,
        store: AsyncLogStore,
        stream: str,
        writer: str,
        feed: AsyncFeedStore | None = None,
        *,
        sync: WriterLog | None = None,
        offload: Offload | None = None,
    ) -> None:
        self._store = store
        self._feed = feed
        self.stream = check_stream(stream)
        self.writer = check_name(writer, "writer")
        # The synchronous handle on the same log, for what runs off the loop: signing
        # checkpoints and verifying against them.
        self._sync = sync
        self._offload = offload

    async def _signed(self, entry: Entry) -> Entry:
        if self._sync is not None and self._sync._signer is not None and self._offload:
            await self._offload.run(self._sync._checkpoint, entry)
        return entry

    def _feed_store(self, what: str) -> AsyncFeedStore:
        if self._feed is None:
            raise Unsupported(f"this async log handle was built without the feed hooks: {what}")
        return self._feed

    async def append(self, payload: bytes, *, expect_head: int | None = None) -> Entry:
        """Append ``payload`` and return the committed entry; with ``expect_head``, only
        after that head seq, as :meth:`agentstore.WriterLog.append` (HeadMoved if not)."""
        if expect_head is None:
            entry = await self._store.append(self.stream, self.writer, payload)
        else:
            expected = check_expect_head(expect_head)
            feed = self._feed_store("conditional appends")
            checked = [check_payload(payload)]
            entry = (await feed.append_if(self.stream, self.writer, checked, expected))[0]
        return await self._signed(entry)

    async def append_many(
        self, payloads: Iterable[bytes], *, expect_head: int | None = None
    ) -> list[Entry]:
        """Append every payload in one transaction; all commit or none do.

        An empty iterable appends nothing and returns ``[]``. The iterable is read on the
        calling task, before anything is stored. ``expect_head`` as for :meth:`append`
        (an empty batch only checks the head).
        """
        checked = check_payloads(payloads)
        if expect_head is None:
            entries = await self._store.append_many(self.stream, self.writer, checked)
            if entries:
                await self._signed(entries[-1])
            return entries
        expected = check_expect_head(expect_head)
        if not checked:
            head = await self._store.head(self.stream, self.writer)
            actual = 0 if head is None else head.seq
            if actual != expected:
                raise HeadMoved(self.stream, self.writer, expected, actual)
            return []
        feed = self._feed_store("conditional appends")
        entries = await feed.append_if(self.stream, self.writer, checked, expected)
        await self._signed(entries[-1])
        return entries

    async def redact(self, seq: int, *, reason: str) -> Entry:
        """Erase the payload of entry ``seq`` for good, as
        :meth:`agentstore.WriterLog.redact` (recorded on the audit chain)."""
        target, why = check_int(seq, "seq", 1), check_reason(reason)
        return await self._feed_store("erasure").redact(self.stream, self.writer, target, why)

    async def head(self) -> Entry | None:
        """The last committed entry, or None when the log is empty."""
        return await self._store.head(self.stream, self.writer)

    def entries(self, after: int = 0) -> AsyncIterator[Entry]:
        """Entries with ``seq > after`` in seq order, fetched a page at a time (memory
        stays bounded by a page however long the log)."""
        return self._entries(check_int(after, "after", 0))

    async def _entries(self, after: int) -> AsyncIterator[Entry]:
        while True:
            page = await self._store.page(self.stream, self.writer, after, PAGE)
            for entry in page:
                yield entry
            if len(page) < PAGE:
                return
            after = page[-1].seq

    __aiter__ = entries

    async def verify(self, *, trusted: Iterable[TrustedKey] | None = None) -> Verified:
        """Check the whole chain (off the event loop) and return the number of entries, a
        :class:`~agentstore.chain.Verified` counting the redacted ones too.

        Proves what :meth:`agentstore.WriterLog.verify` proves, authorship too with
        ``trusted``; raises ChainBroken naming the first bad seq.
        """
        if trusted is None:
            count = await self._store.verify(self.stream, self.writer)
        elif self._sync is None or self._offload is None:
            raise StoreError("this handle cannot verify signatures: open it with store.log()")
        else:
            count = await self._offload.run(functools.partial(self._sync.verify, trusted=trusted))
        return count if isinstance(count, Verified) else Verified(count)

    def __repr__(self) -> str:
        return f"AsyncWriterLog(stream={self.stream!r}, writer={self.writer!r})"


class BridgedGenerationStore:
    """A synchronous :class:`~agentstore.GenerationStore` behind the async protocol."""

    def __init__(self, sync: GenerationStore, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    async def current(self, name: str) -> int:
        return await self._run.call(Generation(self._sync, name).current)

    async def bump(self, name: str) -> int:
        return await self._run.call(Generation(self._sync, name).bump)

    async def advance_to(self, name: str, value: int) -> int:
        return await self._run.call(Generation(self._sync, name).advance_to, value)


class BridgedLogStore:
    """A synchronous :class:`~agentstore.WriterLogStore` behind the async protocol.

    Appends to one log through this store commit and ring one at a time (a lock per
    log, taken on the worker thread), so the doorbell rings in seq order per log.
    ``locks`` (LOCK_STRIPES of them) shares that table with other bridges over the same
    logs, ``scope`` telling their names apart: every view of one tenant bridges its logs
    with the tenant's name as scope, so two views appending to one log also take turns.
    """

    def __init__(
        self,
        sync: WriterLogStore,
        doorbell: Doorbell,
        runner: Runner,
        *,
        locks: tuple[threading.Lock, ...] | None = None,
        scope: str = "",
    ) -> None:
        self._sync, self._bell, self._run = sync, doorbell, runner
        self._locks = locks or tuple(threading.Lock() for _ in range(LOCK_STRIPES))
        self._scope = scope

    def _lock(self, stream: str, writer: str) -> threading.Lock:
        return self._locks[hash((self._scope, stream, writer)) % LOCK_STRIPES]

    def _log(self, stream: str, writer: str) -> WriterLog:
        return WriterLog(self._sync, self._bell, stream, writer)

    def _append_now(self, stream: str, writer: str, payload: bytes) -> Entry:
        with self._lock(stream, writer):
            return self._log(stream, writer).append(payload)

    def _append_many_now(self, stream: str, writer: str, payloads: list[bytes]) -> list[Entry]:
        with self._lock(stream, writer):
            return self._log(stream, writer).append_many(payloads)

    async def append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return await self._run.call(self._append_now, stream, writer, payload)

    async def append_many(self, stream: str, writer: str, payloads: list[bytes]) -> list[Entry]:
        return await self._run.heavy(self._append_many_now, stream, writer, payloads)

    async def head(self, stream: str, writer: str) -> Entry | None:
        return await self._run.call(self._log(stream, writer).head)

    def _page_now(self, stream: str, writer: str, after: int, limit: int) -> list[Entry]:
        log = self._log(stream, writer)

        def start(seq: int) -> Iterator[Entry]:
            return log.entries(seq)

        return take_page(start, after, limit)

    async def page(self, stream: str, writer: str, after: int, limit: int) -> list[Entry]:
        return await self._run.call(self._page_now, stream, writer, after, limit)

    async def verify(self, stream: str, writer: str) -> int:
        return await self._run.heavy(self._log(stream, writer).verify)

    async def logs(self) -> list[tuple[str, str]]:
        return await self._run.call(self._sync.logs)


__all__ = [
    "AsyncGeneration",
    "AsyncGenerationStore",
    "AsyncLogStore",
    "AsyncWriterLog",
    "BridgedGenerationStore",
    "BridgedLogStore",
]
