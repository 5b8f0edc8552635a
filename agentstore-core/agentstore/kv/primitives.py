"""The four primitives a key-value driver supplies, and the guard that closes them.

A driver implements :class:`KeyValue` over whatever it stores keys in (a table, a
directory, a server); :func:`agentstore.kv.open_kv_stores` builds every capability on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final, Protocol, TypeVar, runtime_checkable

from agentstore.errors import StoreError

Pair = tuple[bytes, bytes]
Writes = Mapping[bytes, bytes | None]
"""Keys to write, each to a value or to None (delete it)."""
T = TypeVar("T")

MAX_REFUSALS: Final = 1000
"""Refused commits in a row, the stored value unchanged, before a driver is deemed broken."""

PAGE_SIZE = 1000
"""Pairs asked for per scan when the substrate streams a range: memory stays bounded."""


@runtime_checkable
class KeyValue(Protocol):
    """An ordered map of byte-string keys to byte-string values.

    Every method may be called from several threads at once. Keys and values are
    arbitrary bytes (NUL and 0xFF included); keys compare bytewise, unsigned, as Python
    compares ``bytes``.
    """

    def get(self, key: bytes) -> bytes | None:
        """The value committed under ``key``, or None when there is none."""
        ...

    def scan(self, start: bytes, end: bytes, limit: int) -> Sequence[Pair]:
        """At most ``limit`` ``(key, value)`` pairs with ``start <= key < end``, in
        ascending key order, each a committed value. Pages need not be one snapshot: the
        substrate asks again from after the last key it was given."""
        ...

    def commit(
        self, expect: Mapping[bytes, bytes | None], writes: Mapping[bytes, bytes | None]
    ) -> bool:
        """Atomically: if every key of ``expect`` holds the value given (None: no value),
        apply every write (None deletes the key) and return True; otherwise change
        nothing and return False.

        All or nothing, and linearizable with every other commit to the same storage:
        from every thread, and from every process when the driver declares itself safe
        across processes. Once it returns True the writes are durable as far as the
        driver promises (a persistent driver: they survive the process exiting).
        """
        ...

    def close(self) -> None:
        """Release the storage; the substrate never calls another method afterwards."""
        ...


class Lifetime:
    """The primitives of one opened store, refusing every call once it is closed.

    Shared by the capability objects of one open, so a handle obtained before
    :meth:`close` refuses too.
    """

    __slots__ = ("_kv", "closed", "location")

    def __init__(self, kv: KeyValue, location: str) -> None:
        self._kv = kv
        self.location = location
        self.closed = False

    def check(self) -> KeyValue:
        """The primitives, unless the store is closed (then StoreError)."""
        if self.closed:
            raise StoreError(
                f"{self.location}: the store is closed; open it again with agentstore.open()"
            )
        return self._kv

    def get(self, key: bytes) -> bytes | None:
        return self.check().get(key)

    def scan(self, start: bytes, end: bytes, limit: int) -> Sequence[Pair]:
        return self.check().scan(start, end, limit)

    def commit(self, expect: Writes, writes: Writes) -> bool:
        return self.check().commit(expect, writes)

    def items(self, start: bytes, end: bytes, page: int = PAGE_SIZE) -> Iterator[Pair]:
        """Every pair with ``start <= key < end`` in key order, read a page at a time; an
        iteration under way when the store closes stops with StoreError at its next page."""
        while True:
            pairs = self.check().scan(start, end, page)
            yield from pairs
            if len(pairs) < page:
                return
            start = pairs[-1][0] + b"\x00"  # the least key after the last one read

    def update(
        self,
        key: bytes,
        compute: Callable[[bytes | None], tuple[Writes | None, T]],
        *,
        known: bytes | None = None,
        use_known: bool = False,
    ) -> T:
        """Read ``key`` (or take ``known`` when ``use_known``), ``compute(value)`` into
        ``(writes, result)``, commit ``writes`` guarded by that value, and return
        ``result``; when the commit is refused (another commit won) do it all again from
        the value now stored. ``writes`` of None commits nothing.

        Raises:
            StoreError: the driver refused :data:`MAX_REFUSALS` commits in a row while the
                guarding value stayed the same: its ``commit`` breaks its contract, and
                retrying would never end.
        """
        raw = known if use_known else self.get(key)
        refused = 0
        while True:
            writes, result = compute(raw)
            if writes is None or self.commit({key: raw}, writes):
                return result
            again = self.get(key)
            refused = refused + 1 if again == raw else 0
            if refused >= MAX_REFUSALS:
                raise StoreError(
                    f"{self.location}: the driver's commit was refused {refused} times in a "
                    "row while the value it was guarded by held: it is not keeping the "
                    "KeyValue contract"
                )
            raw = again

    def put(self, key: bytes, value: bytes) -> None:
        self.check().commit({}, {key: value})

    def delete(self, key: bytes) -> None:
        self.check().commit({}, {key: None})

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._kv.close()


__all__ = ["MAX_REFUSALS", "PAGE_SIZE", "KeyValue", "Lifetime", "Pair", "Writes"]
