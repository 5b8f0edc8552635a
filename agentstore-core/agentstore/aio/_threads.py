"""Threads the async store owns: blocking driver calls run here, never on the event loop.

An :class:`Offload` is a bounded :class:`~concurrent.futures.ThreadPoolExecutor` private to
one async store (never asyncio's default executor). What it guarantees:

- a call is awaited on the loop while it runs on a worker thread;
- a caller cancelled while its call waits for a free thread cancels the call: it never
  runs. A caller cancelled while its call runs waits for the call to finish on its
  thread (a transaction in progress commits or rolls back whole), drops the result and
  then raises CancelledError: what the call did is final by then;
- :meth:`Offload.fail_pending` makes every call still awaited raise StoreError at once,
  whatever its thread is doing, so closing a store never waits on a caller;
- :meth:`Offload.shutdown` waits (up to a bound) for the calls still running on their
  threads, then stops the threads; no thread outlives it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Final, ParamSpec, TypeVar

from agentstore.errors import StoreError

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_WORKERS: Final = 8
"""Worker threads per async store unless told otherwise."""
SHUTDOWN_WAIT: Final = 30.0
"""Seconds :meth:`Offload.shutdown` waits for calls still running on their threads."""


def closed_error(what: str = "") -> StoreError:
    doing = f"{what}: " if what else ""
    return StoreError(f"{doing}the store is closed; open it again with agentstore.aio.open()")


class Offload:
    """A bounded thread pool owned by one async store (see the module docstring)."""

    def __init__(self, workers: int = DEFAULT_WORKERS, *, name: str = "agentstore-aio") -> None:
        if workers < 1:
            raise ValueError("an Offload needs at least one worker thread")
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._awaited: set[asyncio.Future[object]] = set()
        self._running: set[concurrent.futures.Future[object]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finishing: set[asyncio.Future[None]] = set()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def check(self, what: str = "") -> None:
        """Raise StoreError when the owning store is closed."""
        if self._closed:
            raise closed_error(what)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a worker thread, awaited here.

        Raises:
            StoreError: the store is closed, or was closed while the call was awaited.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise closed_error()
            call = functools.partial(fn, *args, **kwargs)
            try:
                cf: concurrent.futures.Future[T] = self._pool.submit(call)
            except RuntimeError as exc:  # shut down meanwhile
                raise closed_error() from exc
            self._running.add(cf)  # type: ignore[arg-type]
        af: asyncio.Future[T] = loop.create_future()
        fin = self._finish_marker(loop)

        def settle(done: concurrent.futures.Future[T]) -> None:
            _mark(fin)
            if af.done():  # cancelled, or failed by fail_pending
                return
            if done.cancelled():
                af.cancel()
                return
            exc = done.exception()
            if exc is not None:
                af.set_exception(exc)
            else:
                af.set_result(done.result())

        def finished(done: concurrent.futures.Future[T]) -> None:
            with self._lock:
                self._running.discard(done)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits
                loop.call_soon_threadsafe(settle, done)

        cf.add_done_callback(finished)
        self._awaited.add(af)  # type: ignore[arg-type]
        try:
            return await af
        except asyncio.CancelledError:
            # A call that has not started never runs; one running is left to end, and the
            # caller with it, so what it did is final once the cancellation is raised.
            if not cf.cancel():
                await _settled(fin)
            raise
        finally:
            self._awaited.discard(af)
            self._finishing.discard(fin)

    async def native(self, work: Coroutine[Any, Any, T], *, shield: bool = False) -> T:
        """Await a native driver coroutine as the store's own call.

        It runs as a task of its own: closing the store fails the caller with StoreError
        at once (the task is left to finish, and :meth:`drain` waits for it). With
        ``shield``, a cancelled caller waits for the task to finish (a commit completes and
        rings the doorbell), drops its result and then raises CancelledError; otherwise
        the task is cancelled.

        Raises:
            StoreError: the store is closed, or was closed while the call was awaited.
        """
        if self._closed:
            work.close()
            raise closed_error()
        loop = asyncio.get_running_loop()
        task = loop.create_task(work)
        self._tasks.add(task)
        af: asyncio.Future[T] = loop.create_future()
        fin = self._finish_marker(loop)

        def settle(done: asyncio.Task[T]) -> None:
            self._tasks.discard(done)
            _mark(fin)
            if af.done():
                if not done.cancelled():
                    done.exception()  # retrieved: nobody awaits it any more
                return
            if done.cancelled():
                af.cancel()
            elif (exc := done.exception()) is not None:
                af.set_exception(exc)
            else:
                af.set_result(done.result())

        task.add_done_callback(settle)
        self._awaited.add(af)  # type: ignore[arg-type]
        try:
            return await af
        except asyncio.CancelledError:
            if shield:
                await _settled(fin)
            else:
                task.cancel()
            raise
        finally:
            self._awaited.discard(af)
            self._finishing.discard(fin)

    def _finish_marker(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        fin: asyncio.Future[None] = loop.create_future()
        self._finishing.add(fin)
        return fin

    async def drain(self, wait: float = SHUTDOWN_WAIT) -> None:
        """Wait (up to ``wait`` seconds) for the native tasks still running."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=wait)

    def fail_pending(self, what: str = "") -> None:
        """Mark closed; every call still awaited raises StoreError now (on the loop)."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for cf in running:
            cf.cancel()  # the queued ones never start
        for fin in list(self._finishing):
            _mark(fin)  # a cancelled caller waiting for its call stops waiting
        for af in list(self._awaited):
            if not af.done():
                af.set_exception(closed_error(what or "the store was closed during the call"))

    def shutdown(self, wait: float = SHUTDOWN_WAIT) -> bool:
        """Stop the threads (blocking); True when every running call finished in time.

        Call it off the loop. Calls still running after ``wait`` seconds are left to end
        on their threads, which then exit; nothing new starts.
        """
        with self._lock:
            self._closed = True
            running = list(self._running)
        _done, not_done = concurrent.futures.wait(running, timeout=wait)
        self._pool.shutdown(wait=not not_done, cancel_futures=True)
        return not not_done


def _mark(fin: asyncio.Future[None]) -> None:
    if not fin.done():
        fin.set_result(None)


async def _settled(fin: asyncio.Future[None]) -> None:
    """Wait for ``fin`` whatever further cancellations arrive meanwhile."""
    while not fin.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(fin)


async def on_own_thread(fn: Callable[[], T], name: str) -> T:
    """``fn()`` on a new thread of its own (not asyncio's default executor), awaited."""
    loop = asyncio.get_running_loop()
    af: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: object) -> None:
        if af.done():
            return
        if ok:
            af.set_result(value)  # type: ignore[arg-type]
        else:
            af.set_exception(value)  # type: ignore[arg-type]

    def body() -> None:
        try:
            result: object = fn()
            ok = True
        except BaseException as exc:
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, ok, result)

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    result = await af
    thread.join()  # it has handed over its result: this returns at once
    return result


class Runner:
    """How a bridged store's calls run: on the store's threads, or ``inline`` on the loop.

    ``inline`` suits only a driver whose calls are in memory and quick (each call still
    yields to the loop once before it runs); :meth:`heavy`
    calls (a chain's verify, hashing a large batch) go to the threads either way.
    """

    __slots__ = ("inline", "offload")

    def __init__(self, offload: Offload, *, inline: bool = False) -> None:
        self.offload = offload
        self.inline = inline

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            # Yield to the loop first, as real I/O would: a task appending in a loop must
            # not starve the others, and cancellation and close take effect here.
            await asyncio.sleep(0)
            self.offload.check()
            return fn(*args, **kwargs)
        return await self.offload.run(fn, *args, **kwargs)

    async def heavy(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.offload.run(fn, *args, **kwargs)


__all__ = ["DEFAULT_WORKERS", "Offload", "Runner", "closed_error", "on_own_thread"]
