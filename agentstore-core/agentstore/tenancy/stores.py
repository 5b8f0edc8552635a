"""The capabilities of a tenant view over the root store's named capabilities.

Each class here serves one capability by calling the hooks of the store it wraps with
every name moved into the tenant's namespace (:func:`~agentstore.tenancy.tenant_key`),
and gives back names, entries and events with the namespace taken off again. The public
methods (argument checks, error translation) are the capability's own, so a tenant's
names obey the same rules as anyone's; a driver needs nothing new for these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from agentstore.capabilities import (
    CredentialStore,
    GenerationStore,
    RateLimitCounter,
    WriterLogStore,
)
from agentstore.chain import ChainRow, Head
from agentstore.doorbell import Doorbell, Subscriber, Subscription
from agentstore.errors import ChainBroken, HeadMoved, InvalidInput, NonMonotonicGeneration, NotFound
from agentstore.ratelimit import FixedCount, SlidingCount, SlidingWindow
from agentstore.tenancy.names import tenant_key
from agentstore.types import CommitEvent, Entry

T = TypeVar("T", bound=tuple[Any, ...])


def _new(kind: type[T], fields: tuple[Any, ...]) -> T:
    """A NamedTuple from its fields, unchecked (they come from one of its kind)."""
    return tuple.__new__(kind, fields)


class _Names:
    """A tenant's namespace: maps names in and out of it."""

    __slots__ = ("prefix", "tenant")

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.prefix = tenant_key(tenant, "")

    def into(self, name: str) -> str:
        return self.prefix + name

    def owns(self, stored: str) -> bool:
        return stored.startswith(self.prefix)

    def out(self, stored: str) -> str:
        return stored[len(self.prefix) :]

    def entry(self, e: Entry) -> Entry:
        return _new(Entry, (e.stream[len(self.prefix) :], *e[1:]))

    def event(self, e: CommitEvent) -> CommitEvent:
        return _new(CommitEvent, (e.stream[len(self.prefix) :], *e[1:]))

    def listing(self, names: Iterator[str]) -> Iterator[str]:
        """The names of a sorted listing that lie in this namespace, taken out of it."""
        try:
            for stored in names:
                if stored.startswith(self.prefix):
                    yield stored[len(self.prefix) :]
                elif stored > self.prefix:
                    return  # sorted: nothing of this namespace follows
        finally:
            close = getattr(names, "close", None)
            if close is not None:
                close()


class TenantGenerationStore(GenerationStore):
    """Generations of one tenant. Errors name them as the tenant does."""

    def __init__(self, inner: GenerationStore, tenant: str) -> None:
        self._inner = inner
        self._names = _Names(tenant)

    def _current(self, name: str) -> int:
        return self._inner._current(self._names.into(name))

    def _bump(self, name: str) -> int:
        return self._inner._bump(self._names.into(name))

    def _advance_to(self, name: str, value: int) -> int:
        try:
            return self._inner._advance_to(self._names.into(name), value)
        except NonMonotonicGeneration as back:  # named as the tenant names it, as logs are
            raise NonMonotonicGeneration(name, back.current, back.requested) from None


@contextmanager
def _named(stream: str, writer: str) -> Iterator[None]:
    """Errors about a log name it as its tenant does (the driver raised them with the
    stored name)."""
    try:
        yield
    except HeadMoved as moved:
        raise HeadMoved(stream, writer, moved.expected, moved.actual) from None
    except ChainBroken as broken:
        raise ChainBroken(stream, writer, broken.seq, broken.detail) from None


class TenantLogStore(WriterLogStore):
    """Logs of one tenant: its streams (its own audit chain and checkpoints included),
    its part of the commit feed. Errors name its streams as the tenant does."""

    def __init__(self, inner: WriterLogStore, tenant: str) -> None:
        self._inner = inner
        self._names = _Names(tenant)

    def _stored_name(self, stream: str) -> str:
        """``stream`` as stored: what a signed checkpoint of it signs (so it vouches for
        this tenant's log only; see :func:`agentstore.crypto.signing.signed_stream`)."""
        return self._names.into(stream)

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return self._names.entry(self._inner._append(self._names.into(stream), writer, payload))

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        entries = self._inner._append_many(self._names.into(stream), writer, payloads)
        return [self._names.entry(e) for e in entries]

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        with _named(stream, writer):
            entries = self._inner._append_if(
                self._names.into(stream), writer, payloads, expect_head
            )
        return [self._names.entry(e) for e in entries]

    def _head(self, stream: str, writer: str) -> Entry | None:
        with _named(stream, writer):
            head = self._inner._head(self._names.into(stream), writer)
        return None if head is None else self._names.entry(head)

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        with _named(stream, writer):
            for e in self._inner._entries(self._names.into(stream), writer, after):
                yield self._names.entry(e)

    def _logs(self) -> Iterator[tuple[str, str]]:
        for stream, writer in self._inner._logs_prefixed(self._names.prefix):
            yield self._names.out(stream), writer

    def _chain_rows(self, stream: str, writer: str) -> Iterator[ChainRow]:
        return self._inner._chain_rows(self._names.into(stream), writer)

    def _recorded_head(self, stream: str, writer: str) -> Head | None:
        return self._inner._recorded_head(self._names.into(stream), writer)

    def _verify(self, stream: str, writer: str) -> int:
        with _named(stream, writer):
            return self._inner._verify(self._names.into(stream), writer)

    def _feed(self, after: int, limit: int | None) -> Iterator[CommitEvent]:
        for event in self._inner._feed_prefixed(self._names.prefix, after, limit):
            yield self._names.event(event)

    def _position(self) -> int:
        return self._inner._position()

    def _stream_entries(self, stream: str, after: int) -> Iterator[Entry]:
        for e in self._inner._stream_entries(self._names.into(stream), after):
            yield self._names.entry(e)

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        with _named(stream, writer):
            try:
                entry = self._inner._redact(self._names.into(stream), writer, seq)
            except NotFound:
                raise NotFound(f"log ({stream!r}, {writer!r}) has no entry at seq {seq}") from None
        return self._names.entry(entry)


class TenantCredentialStore(CredentialStore):
    """Secrets of one tenant. Over an encrypting store, the stored name (tenant
    included) is what each envelope is bound to, so a ciphertext moved to another
    tenant's name fails to decrypt."""

    def __init__(self, inner: CredentialStore, tenant: str) -> None:
        self._inner = inner
        self._names = _Names(tenant)
        # The wrapped store's limit: over an encrypting store, a value past it would make
        # an envelope larger than a driver takes, and the hooks below check nothing.
        self._max_value_bytes = inner._max_value_bytes

    def _put_secret(self, name: str, value: bytes) -> None:
        self._inner._put_secret(self._names.into(name), value)

    def _get_secret(self, name: str) -> bytes | None:
        return self._inner._get_secret(self._names.into(name))

    def _delete_secret(self, name: str) -> None:
        self._inner._delete_secret(self._names.into(name))

    def _swap_secret(self, name: str, expected: bytes, value: bytes) -> bool:
        return self._inner._swap_secret(self._names.into(name), expected, value)

    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        start = self._names.prefix if after is None else self._names.into(after)
        return self._names.listing(self._inner._list_secret_names(start))

    def __repr__(self) -> str:
        return f"<TenantCredentialStore tenant={self._names.tenant!r}>"


class TenantRateLimitCounter(RateLimitCounter):
    """Rate-limit keys of one tenant, on the wrapped counter's clock (readable, never
    set through a view: every tenant's windows run on it). Errors name its keys as the
    tenant does."""

    def __init__(self, inner: RateLimitCounter, tenant: str) -> None:
        self._inner = inner
        self._names = _Names(tenant)

    @property
    def clock(self) -> Callable[[], float]:
        return self._inner.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        raise InvalidInput(
            f"the view of tenant {self._names.tenant!r} cannot set the rate-limit clock: "
            "it is the store's, shared by every tenant (open the store with clock= instead)"
        )

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        stored = self._names.into(key)
        try:
            return self._inner._increment(stored, amount, window_secs, now)
        except InvalidInput as exc:
            # The driver named the stored key: name it as the tenant does, whatever the
            # refusal (a total past MAX_INT, or a driver's own limit).
            raise InvalidInput(exc.message.replace(repr(stored), repr(key))) from None

    def _current(self, key: str, now: float) -> int:
        return self._inner._current(self._names.into(key), now)

    def _reset(self, key: str) -> None:
        self._inner._reset(self._names.into(key))

    def _hit_fixed(
        self, key: str, limit: int, cost: int, window_secs: float, now: float
    ) -> FixedCount:
        return self._inner._hit_fixed(self._names.into(key), limit, cost, window_secs, now)

    def _fixed_window(self, key: str, now: float) -> tuple[int, float]:
        return self._inner._fixed_window(self._names.into(key), now)

    def _hit_sliding(self, key: str, limit: int, cost: int, window: SlidingWindow) -> SlidingCount:
        return self._inner._hit_sliding(self._names.into(key), limit, cost, window)

    def _sliding_window(self, key: str, window: SlidingWindow) -> tuple[int, int]:
        return self._inner._sliding_window(self._names.into(key), window)


class TenantDoorbell(Doorbell):
    """The store's doorbell as one tenant hears it: only its own commits, with its own
    stream names; a ring from the tenant's logs reaches the store's other subscribers
    with the stored (namespaced) names."""

    def __init__(self, inner: Doorbell, tenant: str) -> None:  # no super(): shares inner's
        self._inner = inner
        self._names = _Names(tenant)

    @property
    def _subs(self) -> tuple[Subscription, ...]:
        return self._inner._subs

    @_subs.setter
    def _subs(self, subs: tuple[Subscription, ...]) -> None:
        self._inner._subs = subs

    def subscribe(self, fn: Subscriber) -> Subscription:
        names = self._names
        if not callable(fn):
            return self._inner.subscribe(fn)  # refuses it, as any doorbell does

        def heard(event: CommitEvent) -> object:
            if names.owns(event.stream):
                return fn(names.event(event))
            return None

        return self._inner.subscribe(heard)

    def ring(self, event: CommitEvent) -> None:
        self._inner.ring(event._replace(stream=self._names.into(event.stream)))


__all__ = [
    "TenantCredentialStore",
    "TenantDoorbell",
    "TenantGenerationStore",
    "TenantLogStore",
    "TenantRateLimitCounter",
]
