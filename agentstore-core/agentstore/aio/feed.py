"""The commit feed, conditional appends, stream views and erasure, awaited.

What the async face calls is an :class:`AsyncFeedStore`. A native driver serves it on
the object it returns as ``logs`` (see :mod:`agentstore.aio._driver`) by giving that
object all five of its methods; otherwise (every bridged driver, and a native one that
does not have them yet) :class:`BridgedFeed` runs the synchronous store's calls on the
async store's threads (or on the loop, for a driver whose calls are in memory and quick).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import nullcontext, suppress
from typing import Protocol, runtime_checkable

from agentstore.aio._threads import Runner
from agentstore.aio.doorbell import AsyncDoorbell
from agentstore.aio.governance import PAGE, take_page
from agentstore.checks import check_int, check_stream
from agentstore.doorbell import Doorbell
from agentstore.feed import POLL_SECONDS, check_follow
from agentstore.store import Store
from agentstore.types import CommitEvent, Entry

FEED_METHODS = ("append_if", "redact", "feed_page", "position", "stream_page")
"""What a native ``logs`` object must have, all of them, to serve the feed natively."""


@runtime_checkable
class AsyncFeedStore(Protocol):
    """The async hooks behind ``store.feed``/``position``/``follow``/``stream`` and
    ``log.append(..., expect_head=)``/``log.redact``. Arguments arrive checked.

    - ``append_if``: as ``WriterLogStore._append_if`` (HeadMoved, nothing written, when
      the head is not ``expect_head``; ``payloads`` non-empty), then rings the doorbell
      for each entry with its position, as an append does, even if the awaiting task
      was cancelled after the commit.
    - ``redact``: as ``WriterLog.redact``: erase, then record the redaction on the audit
      chain; an entry already redacted is returned with nothing changed or recorded.
    - ``feed_page``: the first ``limit`` events of ``feed(after)``.
    - ``position``: as ``Store.position``.
    - ``stream_page``: the first ``limit`` entries of ``stream(name).entries(after)``.
    """

    async def append_if(
        self, stream: str, writer: str, payloads: list[bytes], expect_head: int
    ) -> list[Entry]: ...
    async def redact(self, stream: str, writer: str, seq: int, reason: str) -> Entry: ...
    async def feed_page(self, after: int, limit: int) -> list[CommitEvent]: ...
    async def position(self) -> int: ...
    async def stream_page(self, stream: str, after: int, limit: int) -> list[Entry]: ...


def serves_feed(obj: object) -> bool:
    """Whether ``obj`` (a native ``logs`` object) has every :class:`AsyncFeedStore` method."""
    return all(callable(getattr(obj, name, None)) for name in FEED_METHODS)


class BridgedFeed:
    """:class:`AsyncFeedStore` over the synchronous :class:`~agentstore.Store`.

    ``lock_for`` gives the lock the async log store takes around an append to a log, so
    the doorbell rings in seq order per log whichever call appended.
    """

    def __init__(
        self,
        sync: Store,
        runner: Runner,
        lock_for: Callable[[str, str], threading.Lock] | None = None,
    ) -> None:
        self._sync, self._run, self._lock_for = sync, runner, lock_for

    def _append_if_now(
        self, stream: str, writer: str, payloads: list[bytes], expect_head: int
    ) -> list[Entry]:
        lock = self._lock_for(stream, writer) if self._lock_for else nullcontext()
        with lock:
            return self._sync.log(stream, writer).append_many(payloads, expect_head=expect_head)

    async def append_if(
        self, stream: str, writer: str, payloads: list[bytes], expect_head: int
    ) -> list[Entry]:
        return await self._run.call(self._append_if_now, stream, writer, payloads, expect_head)

    def _redact_now(self, stream: str, writer: str, seq: int, reason: str) -> Entry:
        return self._sync.log(stream, writer).redact(seq, reason=reason)

    async def redact(self, stream: str, writer: str, seq: int, reason: str) -> Entry:
        return await self._run.call(self._redact_now, stream, writer, seq, reason)

    async def feed_page(self, after: int, limit: int) -> list[CommitEvent]:
        return await self._run.call(take_page, self._sync.feed, after, limit)

    async def position(self) -> int:
        return await self._run.call(self._sync.position)

    async def stream_page(self, stream: str, after: int, limit: int) -> list[Entry]:
        return await self._run.call(take_page, self._sync.stream(stream).entries, after, limit)


async def feed_events(
    feed: AsyncFeedStore, after: int, limit: int | None
) -> AsyncIterator[CommitEvent]:
    """The events of ``feed(after, limit)``, fetched a page at a time."""
    left = limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        page = await feed.feed_page(after, size)
        for event in page:
            yield event
        if len(page) < size:
            return
        after = page[-1].position
        if left is not None:
            left -= len(page)


async def follow_events(
    feed: AsyncFeedStore,
    doorbell: Doorbell,
    after: int,
    timeout: float | None,
    *,
    closing: AsyncDoorbell | None = None,
) -> AsyncIterator[CommitEvent]:
    """As :meth:`agentstore.Store.follow`, awaited: the feed, then new commits, woken by
    ``doorbell`` and reading at least every :data:`~agentstore.feed.POLL_SECONDS`.
    ``closing``, the store's async doorbell, wakes it when the store closes, so it
    raises StoreError at once rather than at its next read."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    if closing is not None:
        closing._wake_on_close(wake)

    def rung(_event: CommitEvent) -> None:
        with suppress(RuntimeError):  # the loop closed: nobody is waiting any more
            loop.call_soon_threadsafe(wake.set)

    sub = doorbell.subscribe(rung)
    try:
        last = after
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wake.clear()
            page = await feed.feed_page(last, PAGE)
            for event in page:
                yield event
                last = event.position
            if page and timeout is not None:
                deadline = time.monotonic() + timeout
            if len(page) == PAGE:
                continue
            wait = POLL_SECONDS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = min(wait, left)
            with suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)
    finally:
        sub.unsubscribe()


class AsyncStreamView:
    """One stream read across all its writers: ``store.stream(name)``, awaited."""

    __slots__ = ("_feed", "name")

    def __init__(self, feed: AsyncFeedStore, name: str) -> None:
        self._feed = feed
        self.name = check_stream(name)

    def entries(self, after: int = 0) -> AsyncIterator[Entry]:
        """As :meth:`agentstore.StreamView.entries`: every writer's entries with
        ``position > after`` in position order, fetched a page at a time."""
        return self._entries(check_int(after, "after", 0))

    async def _entries(self, after: int) -> AsyncIterator[Entry]:
        while True:
            page = await self._feed.stream_page(self.name, after, PAGE)
            for entry in page:
                yield entry
            if len(page) < PAGE:
                return
            after = page[-1].position

    __aiter__ = entries

    def __repr__(self) -> str:
        return f"AsyncStreamView({self.name!r})"


__all__ = [
    "FEED_METHODS",
    "AsyncFeedStore",
    "AsyncStreamView",
    "BridgedFeed",
    "check_follow",
    "feed_events",
    "follow_events",
    "serves_feed",
]
