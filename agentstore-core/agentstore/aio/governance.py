"""The six governance stores, awaited: the synchronous contract as coroutines.

Each protocol here has the methods of its synchronous store (:mod:`agentstore.capabilities`)
with the same names, arguments, results and errors, as coroutines; ``records`` of the
audit sink and the listings (``policies.agent_ids``, ``sessions.ids``,
``credentials.names``, ``lifecycle.agents``) are async iterators, fetched a page at a
time, whose bad arguments raise when called, not when first awaited. The bridged
implementations run the synchronous store's calls on the async store's threads (or, for
an in-memory driver, on the loop), so the checks and error translation are the
synchronous store's own.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Final, Protocol, TypeVar, runtime_checkable

from agentstore.aio._threads import Runner
from agentstore.capabilities import (
    AuditSink,
    Clock,
    CredentialStore,
    LifecycleStore,
    PolicyStore,
    RateLimitCounter,
    SessionStore,
    check_int,
)
from agentstore.governance import check_after, check_name_after
from agentstore.ratelimit import RateLimitResult, Strategy
from agentstore.types import (
    AgentId,
    AgentInfo,
    AuditEntry,
    AuditRecord,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

T = TypeVar("T")
A = TypeVar("A")

PAGE: Final = 500
"""Items an async iterator fetches per trip to the store: its memory stays bounded by it."""


def take_page(start: Callable[[A], Iterator[T]], after: A, limit: int) -> list[T]:
    """Up to ``limit`` items of ``start(after)``, the iterator closed afterwards."""
    items = start(after)
    try:
        return list(itertools.islice(items, limit))
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


async def paged(
    run: Runner,
    listing: Callable[[A | None], Iterator[T]],
    key: Callable[[T], A],
    after: A | None,
) -> AsyncIterator[T]:
    """The items of a synchronous listing (``listing(after)``, resumable after a key),
    fetched :data:`PAGE` at a time on ``run``: memory stays bounded by a page."""
    while True:
        page = await run.call(take_page, listing, after, PAGE)
        for item in page:
            yield item
        if len(page) < PAGE:
            return
        after = key(page[-1])


def _same(item: A) -> A:
    return item


def _agent_of(info: AgentInfo) -> AgentId:
    return info.agent_id


@runtime_checkable
class AsyncPolicyStore(Protocol):
    async def put(self, agent_id: AgentId, document: PolicyDocument) -> None: ...
    async def get(self, agent_id: AgentId) -> PolicyDocument: ...
    async def invalidate(self, agent_id: AgentId) -> None: ...
    def agent_ids(self, after: AgentId | None = None) -> AsyncIterator[AgentId]: ...


@runtime_checkable
class AsyncAuditSink(Protocol):
    async def emit(self, entry: AuditEntry) -> AuditRecord: ...
    def records(self, after: int = 0) -> AsyncIterator[AuditRecord]: ...
    async def verify(self) -> int: ...


@runtime_checkable
class AsyncSessionStore(Protocol):
    async def save(self, record: SessionRecord, ttl_secs: float | None = None) -> None: ...
    async def load(self, session_id: SessionId) -> SessionRecord: ...
    async def delete(self, session_id: SessionId) -> None: ...
    def ids(self, after: SessionId | None = None) -> AsyncIterator[SessionId]: ...
    async def purge_expired(self) -> int: ...


@runtime_checkable
class AsyncCredentialStore(Protocol):
    async def put_secret(self, name: str, value: bytes) -> None: ...
    async def get_secret(self, name: str) -> bytes: ...
    async def delete_secret(self, name: str) -> None: ...
    def names(self, after: str | None = None) -> AsyncIterator[str]: ...


@runtime_checkable
class AsyncRateLimitCounter(Protocol):
    clock: Clock

    async def increment(self, key: str, amount: int = 1, window_secs: float = 60.0) -> int: ...
    async def current(self, key: str) -> int: ...
    async def reset(self, key: str) -> None: ...
    async def hit(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult: ...
    async def window_stats(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult: ...


@runtime_checkable
class AsyncLifecycleStore(Protocol):
    clock: Clock

    async def register(self, agent_id: AgentId) -> None: ...
    async def heartbeat(self, agent_id: AgentId) -> None: ...
    async def deregister(self, agent_id: AgentId) -> None: ...
    async def info(self, agent_id: AgentId) -> AgentInfo: ...
    async def live(self, ttl_secs: float) -> list[AgentId]: ...
    def agents(self, after: AgentId | None = None) -> AsyncIterator[AgentInfo]: ...
    async def prune(self, ttl_secs: float) -> int: ...


class BridgedPolicyStore:
    """A :class:`~agentstore.PolicyStore`, awaited."""

    def __init__(self, sync: PolicyStore, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    async def put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        """Store ``document`` as the agent's policy, replacing any previous one."""
        await self._run.call(self._sync.put, agent_id, document)

    async def get(self, agent_id: AgentId) -> PolicyDocument:
        """The agent's policy. Raises NotFound if none is stored."""
        return await self._run.call(self._sync.get, agent_id)

    async def invalidate(self, agent_id: AgentId) -> None:
        """Forget the agent's policy. Idempotent."""
        await self._run.call(self._sync.invalidate, agent_id)

    def agent_ids(self, after: AgentId | None = None) -> AsyncIterator[AgentId]:
        """Every agent with a stored policy, sorted, fetched a page at a time."""
        start = check_after(after, AgentId, "after")
        return paged(self._run, self._sync.agent_ids, _same, start)


class BridgedAuditSink:
    """An :class:`~agentstore.AuditSink`, awaited; ``records`` streams in pages."""

    def __init__(self, sync: AuditSink, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    async def emit(self, entry: AuditEntry) -> AuditRecord:
        """Append ``entry`` durably and return it with its place in the chain."""
        return await self._run.call(self._sync.emit, entry)

    def records(self, after: int = 0) -> AsyncIterator[AuditRecord]:
        """Stored records with ``seq > after``, in order, fetched a page at a time."""
        return self._records(check_int(after, "after", 0))

    async def _records(self, after: int) -> AsyncIterator[AuditRecord]:
        while True:
            page = await self._run.call(take_page, self._sync.records, after, PAGE)
            for record in page:
                yield record
            if len(page) < PAGE:
                return
            after = page[-1].seq

    async def verify(self) -> int:
        """Check the audit chain off the loop; return its length (ChainBroken if not)."""
        return await self._run.heavy(self._sync.verify)


class BridgedSessionStore:
    """A :class:`~agentstore.SessionStore`, awaited."""

    def __init__(self, sync: SessionStore, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    async def save(self, record: SessionRecord, ttl_secs: float | None = None) -> None:
        """Store ``record`` under its session id, overwriting any previous record; with
        ``ttl_secs``, it expires that long from now."""
        await self._run.call(self._sync.save, record, ttl_secs)

    async def load(self, session_id: SessionId) -> SessionRecord:
        """The stored record. Raises NotFound if there is none."""
        return await self._run.call(self._sync.load, session_id)

    async def delete(self, session_id: SessionId) -> None:
        """Remove the record. Idempotent."""
        await self._run.call(self._sync.delete, session_id)

    def ids(self, after: SessionId | None = None) -> AsyncIterator[SessionId]:
        """Every unexpired session's id, sorted, fetched a page at a time."""
        start = check_after(after, SessionId, "after")
        return paged(self._run, self._sync.ids, _same, start)

    async def purge_expired(self) -> int:
        """Remove every expired record from storage; return how many were removed."""
        return await self._run.call(self._sync.purge_expired)


class BridgedCredentialStore:
    """A :class:`~agentstore.CredentialStore`, awaited; values never shown in a repr."""

    def __init__(self, sync: CredentialStore, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    async def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, overwriting any previous value."""
        await self._run.call(self._sync.put_secret, name, value)

    async def get_secret(self, name: str) -> bytes:
        """The stored value. Raises NotFound (naming only ``name``) if absent."""
        return await self._run.call(self._sync.get_secret, name)

    async def delete_secret(self, name: str) -> None:
        """Remove the secret. Idempotent."""
        await self._run.call(self._sync.delete_secret, name)

    def names(self, after: str | None = None) -> AsyncIterator[str]:
        """Every secret's name, never a value, sorted, fetched a page at a time."""
        start = check_name_after(after)
        return paged(self._run, self._sync.names, _same, start)

    def __repr__(self) -> str:
        return f"<async {self._sync!r}>"


class BridgedRateLimitCounter:
    """A :class:`~agentstore.RateLimitCounter`, awaited."""

    def __init__(self, sync: RateLimitCounter, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    @property
    def clock(self) -> Clock:
        return self._sync.clock

    async def increment(self, key: str, amount: int = 1, window_secs: float = 60.0) -> int:
        """Add ``amount`` (>= 1) to ``key`` and return the total in the current window."""
        return await self._run.call(self._sync.increment, key, amount, window_secs)

    async def current(self, key: str) -> int:
        """The total in the key's current window; 0 if it expired or never started."""
        return await self._run.call(self._sync.current, key)

    async def reset(self, key: str) -> None:
        """Forget the key's window and count (of both ``hit`` strategies). Idempotent."""
        await self._run.call(self._sync.reset, key)

    async def hit(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult:
        """Spend ``cost`` of ``key``'s ``limit`` per ``window_secs`` if it fits, atomically
        (see :meth:`agentstore.RateLimitCounter.hit`)."""
        hit = self._sync.hit
        return await self._run.call(hit, key, limit, window_secs, cost=cost, strategy=strategy)

    async def window_stats(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult:
        """What :meth:`hit` would answer now, counting nothing."""
        look = self._sync.window_stats
        return await self._run.call(look, key, limit, window_secs, cost=cost, strategy=strategy)


class BridgedLifecycleStore:
    """A :class:`~agentstore.LifecycleStore`, awaited."""

    def __init__(self, sync: LifecycleStore, runner: Runner) -> None:
        self._sync, self._run = sync, runner

    @property
    def clock(self) -> Clock:
        return self._sync.clock

    async def register(self, agent_id: AgentId) -> None:
        """Record the agent as registered and alive now."""
        await self._run.call(self._sync.register, agent_id)

    async def heartbeat(self, agent_id: AgentId) -> None:
        """Mark a registered agent alive now. Raises NotFound unless it is registered."""
        await self._run.call(self._sync.heartbeat, agent_id)

    async def deregister(self, agent_id: AgentId) -> None:
        """Forget the agent. Idempotent."""
        await self._run.call(self._sync.deregister, agent_id)

    async def info(self, agent_id: AgentId) -> AgentInfo:
        """What is known of a registered agent. Raises NotFound unless it is registered."""
        return await self._run.call(self._sync.info, agent_id)

    async def live(self, ttl_secs: float) -> list[AgentId]:
        """Registered agents seen within ``ttl_secs``, sorted by id."""
        return await self._run.call(self._sync.live, ttl_secs)

    def agents(self, after: AgentId | None = None) -> AsyncIterator[AgentInfo]:
        """Every registered agent, sorted by id, fetched a page at a time."""
        start = check_after(after, AgentId, "after")
        return paged(self._run, self._sync.agents, _agent_of, start)

    async def prune(self, ttl_secs: float) -> int:
        """Deregister every agent not seen within ``ttl_secs``; return how many."""
        return await self._run.call(self._sync.prune, ttl_secs)


__all__ = [
    "PAGE",
    "AsyncAuditSink",
    "AsyncCredentialStore",
    "AsyncLifecycleStore",
    "AsyncPolicyStore",
    "AsyncRateLimitCounter",
    "AsyncSessionStore",
    "BridgedAuditSink",
    "BridgedCredentialStore",
    "BridgedLifecycleStore",
    "BridgedPolicyStore",
    "BridgedRateLimitCounter",
    "BridgedSessionStore",
    "paged",
    "take_page",
]
