"""The async store and how to open it: ``agentstore.aio.open``."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from agentstore.aio._driver import AsyncDriverStores, NativeKit, native_opener
from agentstore.aio._threads import DEFAULT_WORKERS, Offload, Runner, closed_error, on_own_thread
from agentstore.aio.doorbell import AsyncDoorbell
from agentstore.aio.feed import (
    AsyncFeedStore,
    AsyncStreamView,
    BridgedFeed,
    check_follow,
    feed_events,
    follow_events,
    serves_feed,
)
from agentstore.aio.governance import (
    AsyncAuditSink,
    AsyncCredentialStore,
    AsyncLifecycleStore,
    AsyncPolicyStore,
    AsyncRateLimitCounter,
    AsyncSessionStore,
    BridgedAuditSink,
    BridgedCredentialStore,
    BridgedLifecycleStore,
    BridgedPolicyStore,
    BridgedRateLimitCounter,
    BridgedSessionStore,
)
from agentstore.aio.handles import (
    LOCK_STRIPES,
    AsyncGeneration,
    AsyncGenerationStore,
    AsyncLogStore,
    AsyncWriterLog,
    BridgedGenerationStore,
    BridgedLogStore,
)
from agentstore.capabilities import CAPABILITIES, CapabilityName, Clock, WriterLogStore
from agentstore.checks import check_int
from agentstore.doorbell import Doorbell
from agentstore.errors import MissingCapability
from agentstore.policy import StorePolicy
from agentstore.registry import DriverStores, Registry, default_registry
from agentstore.store import Store
from agentstore.store import open as open_sync

if TYPE_CHECKING:
    from agentstore.aio.tenant import AsyncTenantStore
    from agentstore.crypto.signing import SigningKey
from agentstore.types import CommitEvent

_BRIDGES: dict[CapabilityName, Any] = {
    "generations": BridgedGenerationStore,
    "policies": BridgedPolicyStore,
    "audit": BridgedAuditSink,
    "sessions": BridgedSessionStore,
    "credentials": BridgedCredentialStore,
    "rate_limits": BridgedRateLimitCounter,
    "lifecycle": BridgedLifecycleStore,
}


class AsyncStore:
    """An open store, awaited: the causal primitives, the doorbell and the governance stores.

    Obtain one with :func:`agentstore.aio.open`. Use it from the event loop it was opened
    on. ``sync`` is the synchronous :class:`~agentstore.Store` underneath (its calls
    block: never make them on the loop). No call of the async store runs database I/O,
    batch hashing or chain verification on the loop.
    After :meth:`aclose`, every capability raises StoreError saying the store is closed,
    and calls that were still awaited fail with StoreError at once.
    """

    def __init__(
        self,
        sync: Store,
        caps: dict[CapabilityName, object],
        doorbell: AsyncDoorbell,
        offload: Offload,
        closers: list[AsyncDriverStores],
        *,
        feed: AsyncFeedStore | None = None,
    ) -> None:
        self.sync = sync
        self._feed = feed
        self.policy: StorePolicy = sync.policy
        self.doorbell = doorbell
        self._caps = caps
        self._offload = offload
        self._closers = closers
        self._closing: asyncio.Future[None] | None = None
        self._views: weakref.WeakSet[AsyncTenantStore] = weakref.WeakSet()
        # The log locks of every tenant view (see BridgedLogStore): a view is taken per
        # request, and two views of one tenant appending to one log must take turns.
        self._view_locks = tuple(threading.Lock() for _ in range(LOCK_STRIPES))

    def _cap(self, capability: CapabilityName) -> Any:
        if self._offload.closed:
            raise closed_error(f"cannot use capability {capability!r}")
        return self._caps[capability]

    @property
    def routes(self) -> dict[CapabilityName, str]:
        """The driver serving each capability."""
        return self.sync.routes

    def generation(self, name: str) -> AsyncGeneration:
        """The monotonic counter called ``name``."""
        return AsyncGeneration(cast(AsyncGenerationStore, self._cap("generations")), name)

    def log(
        self, stream: str, writer: str, *, signing_key: SigningKey | None = None
    ) -> AsyncWriterLog:
        """The chained log of ``writer`` in ``stream``; appends ring :attr:`doorbell`.

        ``signing_key`` signs a checkpoint after every append call, as
        :meth:`agentstore.Store.log` describes (the signing runs off the loop).
        """
        logs = cast(AsyncLogStore, self._cap("logs"))
        sync = self.sync.log(stream, writer, signing_key=signing_key)
        return AsyncWriterLog(logs, stream, writer, self._feed, sync=sync, offload=self._offload)

    async def logs(self) -> list[tuple[str, str]]:
        """Every ``(stream, writer)`` with entries, sorted (the audit chain included)."""
        return await cast(AsyncLogStore, self._cap("logs")).logs()

    # -- the commit feed (see agentstore.Store.feed for the guarantees) -------------------

    def _feed_store(self) -> AsyncFeedStore:
        self._cap("logs")  # refuses once closed
        if self._feed is None:  # pragma: no cover - open() always supplies one
            raise MissingCapability("no driver serves the commit feed")
        return self._feed

    def feed(self, after: int = 0, limit: int | None = None) -> AsyncIterator[CommitEvent]:
        """``async for event in store.feed(after)``: as :meth:`agentstore.Store.feed`,
        fetched a page at a time."""
        start = check_int(after, "after", 0)
        most = None if limit is None else check_int(limit, "limit", 0)
        return feed_events(self._feed_store(), start, most)

    async def position(self) -> int:
        """As :meth:`agentstore.Store.position`."""
        return await self._feed_store().position()

    def stream(self, name: str) -> AsyncStreamView:
        """Stream ``name`` across all its writers: ``async for e in .entries(after)``."""
        return AsyncStreamView(self._feed_store(), name)

    def follow(self, after: int = 0, *, timeout: float | None = None) -> AsyncIterator[CommitEvent]:
        """As :meth:`agentstore.Store.follow`, as an async iterator: the feed from
        ``after``, then each new commit (woken by the doorbell, reading the feed at least
        once a second), until ``timeout`` seconds pass without one (None: forever)."""
        start, wait = check_follow(after, timeout)
        feed = self._feed_store()
        return follow_events(feed, self.sync.doorbell, start, wait, closing=self.doorbell)

    @property
    def policies(self) -> AsyncPolicyStore:
        return cast(AsyncPolicyStore, self._cap("policies"))

    @property
    def audit(self) -> AsyncAuditSink:
        return cast(AsyncAuditSink, self._cap("audit"))

    @property
    def sessions(self) -> AsyncSessionStore:
        return cast(AsyncSessionStore, self._cap("sessions"))

    @property
    def credentials(self) -> AsyncCredentialStore:
        return cast(AsyncCredentialStore, self._cap("credentials"))

    @property
    def rate_limits(self) -> AsyncRateLimitCounter:
        return cast(AsyncRateLimitCounter, self._cap("rate_limits"))

    @property
    def lifecycle(self) -> AsyncLifecycleStore:
        return cast(AsyncLifecycleStore, self._cap("lifecycle"))

    def tenant(self, name: str) -> AsyncTenantStore:
        """This store as tenant ``name`` sees it (see :meth:`agentstore.Store.tenant`);
        the view's calls run on this store's threads.

        Raises:
            InvalidInput: ``name`` is not a tenant name.
            StoreError: the store is closed.
        """
        from agentstore.aio.tenant import AsyncTenantStore

        if self.closed:  # before the view asks the synchronous store, which names its open
            raise closed_error("cannot take a tenant view")
        view = AsyncTenantStore(self, name)
        self._views.add(view)
        return view

    @property
    def closed(self) -> bool:
        return self._offload.closed

    async def aclose(self) -> None:
        """Release every driver and stop the store's threads. Idempotent.

        Calls still awaited fail with StoreError at once; calls already running on a
        thread finish there (a transaction commits or rolls back whole) before the
        drivers close.
        """
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closing = asyncio.get_running_loop().create_future()
        try:
            self._offload.fail_pending()
            await self.doorbell._aclose()
            for view in list(self._views):
                await view.aclose()
            first: BaseException | None = None
            for native in self._closers:
                if native.aclose is not None:
                    try:
                        await native.aclose()
                    except Exception as exc:
                        first = first or exc
            offload, sync = self._offload, self.sync

            def finish() -> None:
                offload.shutdown()
                sync.close()

            try:
                await on_own_thread(finish, "agentstore-aio-close")
            except Exception as exc:
                first = first or exc
            if first is not None:
                raise first
        finally:
            self._closing.set_result(None)

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        drivers = sorted(set(self.sync.routes.values()))
        return f"<agentstore.aio.AsyncStore drivers={drivers} closed={self.closed}>"


class _Opening:
    """What :func:`open` returns: await it, or use it as ``async with``."""

    def __init__(self, opening: Any) -> None:
        self._coro = opening
        self._store: AsyncStore | None = None

    def __await__(self) -> Generator[Any, None, AsyncStore]:
        store: AsyncStore = yield from self._coro.__await__()
        return store

    async def __aenter__(self) -> AsyncStore:
        self._store = await self
        return self._store

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._store is not None:
            await self._store.aclose()


def open(
    source: StorePolicy | str | os.PathLike[str] | None = None,
    *,
    clock: Clock | None = None,
    create: bool = True,
    registry: Registry | None = None,
    workers: int = DEFAULT_WORKERS,
    read_only: bool = False,
) -> _Opening:
    """Open the store a policy describes, for asyncio.

    ``async with agentstore.aio.open(...) as store:``, or ``store = await
    agentstore.aio.open(...)`` then ``await store.aclose()``. The policy is found exactly
    as :func:`agentstore.open` finds it, and the arguments mean the same (``read_only``
    too: the drivers' native asyncio paths only read as well); ``workers`` is how many
    threads the store owns for blocking driver calls.

    Raises:
        InvalidInput: ``workers`` is not an int of at least 1.
        ConfigError: the policy is invalid or names drivers or capabilities not installed.
        BackendUnavailable: a backend could not be reached or opened.
    """
    threads = check_int(workers, "workers", 1)
    return _Opening(_open(source, clock, create, registry, threads, read_only=read_only))


async def _open(
    source: StorePolicy | str | os.PathLike[str] | None,
    clock: Clock | None,
    create: bool,
    registry: Registry | None,
    workers: int,
    *,
    read_only: bool,
) -> AsyncStore:
    loop = asyncio.get_running_loop()
    offload = Offload(workers)
    sync: Store | None = None
    closers: list[AsyncDriverStores] = []
    try:
        sync = await offload.run(
            open_sync, source, registry=registry, clock=clock, create=create, read_only=read_only
        )
        bell = AsyncDoorbell(sync.doorbell, loop)
        kit = NativeKit(offload, sync.doorbell, clock or time.time)
        caps: dict[CapabilityName, object] = {}
        found = registry or default_registry()
        for name, stores in sync._opened.items():
            served = [c for c in CAPABILITIES if sync._routes[c] == name]
            opener = native_opener(found.get(name))
            native = AsyncDriverStores()
            if opener is not None:
                native = await opener(stores, kit)
                closers.append(native)
            for cap in served:
                caps[cap] = getattr(native, cap) or _bridge(cap, stores, kit)
        if sync.keyring is not None:
            from agentstore.crypto.credentials import AsyncEncryptedCredentialStore

            caps["credentials"] = AsyncEncryptedCredentialStore(
                cast(AsyncCredentialStore, caps["credentials"]), sync.keyring
            )
        feed = _feed_of(sync, caps["logs"], kit)
        return AsyncStore(sync, caps, bell, offload, closers, feed=feed)
    except BaseException:
        offload.fail_pending()
        for native in closers:
            if native.aclose is not None:
                await native.aclose()
        opened = sync

        def undo() -> None:
            offload.shutdown()
            if opened is not None:
                opened.close()

        await on_own_thread(undo, "agentstore-aio-close")
        raise


def _feed_of(sync: Store, logs: object, kit: NativeKit) -> AsyncFeedStore:
    """The native logs object when it serves the feed (every AsyncFeedStore method), else
    the synchronous store's, run as the logs object runs its calls."""
    if serves_feed(logs):
        return cast(AsyncFeedStore, logs)
    if isinstance(logs, BridgedLogStore):
        return BridgedFeed(sync, logs._run, logs._lock)
    return BridgedFeed(sync, Runner(kit.offload))


def _bridge(cap: CapabilityName, stores: DriverStores, kit: NativeKit) -> object:
    obj = getattr(stores, cap)
    if obj is None:
        raise MissingCapability(f"no driver serves capability {cap!r}")
    return bridged(cap, obj, kit.doorbell, Runner(kit.offload))


def bridged(cap: CapabilityName, obj: object, doorbell: Doorbell, runner: Runner) -> Any:
    """The async face of ``obj``, the synchronous store serving ``cap``, its calls run by
    ``runner``; a bridged log store rings ``doorbell``."""
    if cap == "logs":
        return BridgedLogStore(cast(WriterLogStore, obj), doorbell, runner)
    return _BRIDGES[cap](obj, runner)


__all__ = ["AsyncStore", "open"]
