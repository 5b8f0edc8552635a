"""The commit doorbell, for asyncio: async subscribers and a bounded event stream.

``store.doorbell`` of an async store announces the same commits as the synchronous
:class:`~agentstore.Doorbell` (every append committed through the store, and, for a driver
that offers it, commits made by other processes), in two ways:

- :meth:`AsyncDoorbell.subscribe` takes a plain callable, called on the thread that
  committed right after the commit (as the synchronous doorbell does: keep it quick and
  thread-safe), or an ``async def`` function, run as a task on the store's event loop.
  A subscriber that raises (or whose task fails) is logged and skipped: the append still
  succeeds and the other subscribers are still called.
- ``async for event in store.doorbell.events():`` yields every
  :class:`~agentstore.CommitEvent` committed from the call to ``events()`` on, in commit
  order per log. Its buffer is bounded (``maxsize`` events, 1024 by default). A consumer
  that falls behind never blocks an append and never makes the buffer grow: once the
  buffer is full, newer events are dropped and counted, the iterator yields every event
  it kept (a gap-free run) and then raises :class:`EventsMissed` carrying how many it
  dropped, and ends. To catch up, start a new ``events()`` and read the logs concerned
  from the seq last seen (``log.entries(after=seq)``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final

from agentstore.aio._threads import closed_error
from agentstore.doorbell import Doorbell, Subscription
from agentstore.errors import EventsMissed, InvalidInput, StoreError
from agentstore.types import CommitEvent

DEFAULT_BUFFER: Final = 1024
_log = logging.getLogger("agentstore.doorbell")


Lagged = EventsMissed
"""Another name for :class:`EventsMissed` (as tokio's broadcast channel calls it)."""


class EventStream:
    """The async iterator ``store.doorbell.events()`` returns (see the module docstring).

    Subscribed from its creation until it ends, is closed (:meth:`aclose`, ``async
    with``), its store closes, or it is garbage-collected. One consumer per stream.
    """

    def __init__(self, bell: Doorbell, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        if type(maxsize) is not int or maxsize < 1:
            raise InvalidInput(f"maxsize must be a positive int, not {maxsize!r}")
        self._loop = loop
        self._maxsize = maxsize
        self._buffer: collections.deque[CommitEvent] = collections.deque()
        self._lock = threading.Lock()
        self._missed = 0
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        ref = weakref.ref(self)
        holder: list[Subscription] = []

        def deliver(event: CommitEvent) -> None:
            stream = ref()
            if stream is None:  # dropped without closing: stop listening
                if holder:
                    holder[0].unsubscribe()
                return
            stream._push(event)

        self._subscription = bell.subscribe(deliver)
        holder.append(self._subscription)

    @property
    def missed(self) -> int:
        """Events dropped so far because the buffer was full."""
        return self._missed

    def _push(self, event: CommitEvent) -> None:
        with self._lock:
            if self._closed:
                return
            if self._missed or len(self._buffer) >= self._maxsize:
                self._missed += 1  # never a gap between yielded events: drop from here on
            else:
                self._buffer.append(event)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                self._loop.call_soon_threadsafe(_wake, waiter)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> CommitEvent:
        while True:
            with self._lock:
                if self._buffer:
                    return self._buffer.popleft()
                missed = self._missed
                if not missed and self._closed:
                    raise StopAsyncIteration
                if not missed:
                    waiter = self._waiter = self._loop.create_future()
            if missed:
                self.close()
                raise EventsMissed(missed)
            await waiter

    def close(self) -> None:
        """Stop listening; a consumer waiting for an event gets the end of iteration."""
        with self._lock:
            self._closed = True
            self._buffer.clear()
            self._missed = 0
            waiter, self._waiter = self._waiter, None
        self._subscription.unsubscribe()
        if waiter is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_wake, waiter)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


AsyncSubscriber = Callable[[CommitEvent], Awaitable[object]]


class AsyncDoorbell:
    """``store.doorbell`` of an async store (see the module docstring)."""

    def __init__(
        self,
        bell: Doorbell,
        loop: asyncio.AbstractEventLoop,
        *,
        parent: AsyncDoorbell | None = None,
    ) -> None:
        """``parent``: the store's doorbell, for a tenant view's. Closing the store ends
        the view's streams and subscriber tasks too, through it, even once the view
        itself is gone (a view is taken per request and dropped; what it started is not)."""
        self.sync = bell
        self._loop = loop
        self._parent = parent
        self._tasks: set[asyncio.Task[object]] = set()
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()
        self._wakers: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()
        self._closed = False

    def subscribe(self, fn: Callable[[CommitEvent], object]) -> Subscription:
        """Call ``fn(event)`` after every commit from now on; returns the unsubscribe handle.

        An ``async def`` ``fn`` runs as a task on the store's loop; a plain one on the
        committing thread.

        Raises:
            InvalidInput: ``fn`` is not callable (nothing is subscribed).
        """
        if not callable(fn):
            raise InvalidInput(f"a doorbell subscriber must be callable, not {type(fn).__name__}")
        if not _is_async(fn):
            return self.sync.subscribe(fn)
        loop = self._loop

        def schedule(event: CommitEvent) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(self._start, fn, event)

        return self.sync.subscribe(schedule)

    def _start(self, fn: Callable[[CommitEvent], object], event: CommitEvent) -> None:
        try:
            made = fn(event)
            if not inspect.isawaitable(made):
                return
            task: asyncio.Task[object] = asyncio.ensure_future(made)
        except Exception:
            _log.exception(
                "doorbell subscriber %r failed for %s/%s seq %d",
                fn,
                event.stream,
                event.writer,
                event.seq,
            )
            return
        self._tasks.add(task)
        if self._parent is not None:
            self._parent._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, fn, event))

    def _finished(
        self, task: asyncio.Task[object], fn: Callable[[CommitEvent], object], event: CommitEvent
    ) -> None:
        self._tasks.discard(task)
        if self._parent is not None:
            self._parent._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            _log.error(
                "doorbell subscriber %r failed for %s/%s seq %d",
                fn,
                event.stream,
                event.writer,
                event.seq,
                exc_info=exc,
            )

    def events(self, maxsize: int = DEFAULT_BUFFER) -> EventStream:
        """An async iterator of every commit from now on (bounded; see the module docs).

        Raises:
            StoreError: the store (or the tenant view) is closed: nothing would ever ring.
        """
        if self._parent is not None and self._parent._closed:
            raise closed_error("cannot listen for commits")
        if self._closed:
            if self._parent is not None:
                raise StoreError(
                    "cannot listen for commits: the tenant view is closed; take another "
                    "with store.tenant()"
                )
            raise closed_error("cannot listen for commits")
        stream = EventStream(self.sync, self._loop, maxsize)
        self._streams.add(stream)
        if self._parent is not None:
            self._parent._streams.add(stream)
        return stream

    def _wake_on_close(self, wake: asyncio.Event) -> None:
        """Set ``wake`` when this doorbell (its store, or its tenant view) closes: a
        follower waiting on it for the next commit then reads the feed at once and learns
        that the store is closed."""
        self._wakers.add(wake)
        if self._parent is not None:
            self._parent._wakers.add(wake)

    @property
    def subscriber_count(self) -> int:
        return self.sync.subscriber_count

    def ring(self, event: CommitEvent) -> None:
        """Deliver ``event`` to every subscriber and stream (drivers ring; users rarely do)."""
        self.sync.ring(event)

    async def _aclose(self) -> None:
        """End every stream, wake every follower and await the subscriber tasks still
        running (cancelled)."""
        self._closed = True
        for stream in list(self._streams):
            stream.close()
        for wake in list(self._wakers):
            wake.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _is_async(fn: Callable[..., object]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - an instance with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


__all__ = ["DEFAULT_BUFFER", "AsyncDoorbell", "EventStream", "EventsMissed", "Lagged"]
