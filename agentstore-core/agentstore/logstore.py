"""The ``logs`` capability: per-``(stream, writer)`` chained logs, and the store-wide
commit feed over them.

:class:`WriterLogStore` is re-exported by :mod:`agentstore.capabilities` (and
``agentstore``), where drivers import it from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

from agentstore.chain import ChainRow, Head, verify_rows, verify_to_head
from agentstore.errors import Unsupported
from agentstore.translate import DriverCall
from agentstore.types import CommitEvent, Entry


class WriterLogStore(ABC):
    """Per-``(stream, writer)`` append-only, BLAKE3-chained logs (capability ``logs``).

    Guarantees a driver must keep:
      - ``seq`` starts at 1 and is contiguous per ``(stream, writer)``;
      - each entry's ``content_hash`` is ``BLAKE3(prev_hash || payload)`` (genesis: the
        payload alone) and its ``prev_hash`` is the previous entry's ``content_hash``;
      - concurrent appends to one log serialize: no duplicate seq, no error caused by the
        race, nothing lost;
      - an append returns only once it is committed; a batch commits whole or not at all.

    The hooks below the abstract ones (conditional appends, the commit feed, positions,
    stream reads across writers, redaction) came after the first release: they are not
    abstract, and their defaults raise :class:`~agentstore.errors.Unsupported`, so a
    driver written before them keeps working for everything else. A driver that gives
    positions returns them in every :class:`~agentstore.types.Entry` it gives back.
    """

    @abstractmethod
    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        """Commit one entry after the current head and return it."""

    @abstractmethod
    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        """Commit all ``payloads`` (non-empty) in one transaction, in order."""

    @abstractmethod
    def _head(self, stream: str, writer: str) -> Entry | None:
        """The last entry, or None for an empty log."""

    @abstractmethod
    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        """Entries with ``seq > after`` in seq order, streamed (not materialised)."""

    @abstractmethod
    def _logs(self) -> Iterator[tuple[str, str]]:
        """Every ``(stream, writer)`` that has at least one entry, sorted."""

    def _logs_prefixed(self, prefix: str) -> Iterator[tuple[str, str]]:
        """The logs :meth:`_logs` lists whose stream starts with ``prefix`` (a tenant's),
        in the same order. The default reads every log and keeps those; a driver that can
        seek to them overrides it."""
        for stream, writer in self._logs():
            if stream.startswith(prefix):
                yield stream, writer

    def _chain_rows(self, stream: str, writer: str) -> Iterator[ChainRow]:
        """Stored ``(seq, payload, prev_hash, content_hash)`` rows exactly as kept; the
        payload is None for a redacted entry."""
        for e in self._entries(stream, writer, 0):
            yield e.seq, None if e.redacted else e.payload, e.prev_hash, e.content_hash

    def _recorded_head(self, stream: str, writer: str) -> Head | None:
        """The log's head as recorded apart from its entries, or None (the default) when
        the driver records none.

        A driver that records each log's head, moved in the same transaction as every
        append, returns it here as ``(seq, content_hash)`` of the last entry appended
        (``(0, None)`` for a log never written); the default :meth:`_verify` then checks
        the stored entries against it, so a truncated log is caught. Without it only the
        chain itself is checked, and deleting the last entries leaves a valid chain.
        """
        return None

    def _verify(self, stream: str, writer: str) -> int:
        """Check the whole chain, and against the recorded head when the driver keeps one
        (:meth:`_recorded_head`); return its length, a :class:`~agentstore.chain.Verified`
        counting redacted entries too (a plain int from a driver's override is read as
        none redacted). Drivers may override to go faster."""
        first = self._recorded_head(stream, writer)
        rows = self._chain_rows(stream, writer)
        if first is None:
            count, _ = verify_rows(stream, writer, rows)
            return count

        def read_head(stream: str, writer: str) -> Head:
            return self._recorded_head(stream, writer) or (0, None)

        return verify_to_head(stream, writer, rows, read_head, first=first)

    # -- hooks added after the first release: not abstract, the defaults refuse ----------

    def _unsupported(self, what: str) -> Unsupported:
        """The error a hook this driver does not implement raises."""
        kind = type(self)
        return Unsupported(
            f"driver {kind.__module__}.{kind.__qualname__} does not support {what}; "
            "upgrade the driver, or use one that does"
        )

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        """Atomically: when the log's head seq is ``expect_head`` (0: empty log), commit all
        ``payloads`` (non-empty) in one transaction as :meth:`_append_many` does and return
        them; otherwise raise :class:`~agentstore.errors.HeadMoved` naming the actual head,
        writing nothing."""
        raise self._unsupported("conditional appends (expect_head=)")

    def _feed(self, after: int, limit: int | None) -> Iterator[CommitEvent]:
        """Every committed entry of the store (all streams and writers, the audit chain
        included) with ``position > after``, in position order, at most ``limit`` of them
        (None: no limit), streamed in pages (memory bounded whatever the store holds).

        No late gaps: an entry not yet delivered never has a position at most the last one
        delivered; a driver whose positions can commit out of order delivers only those
        below every position still uncommitted."""
        raise self._unsupported("the commit feed (store.feed)")

    def _feed_prefixed(self, prefix: str, after: int, limit: int | None) -> Iterator[CommitEvent]:
        """The events :meth:`_feed` gives whose stream starts with ``prefix`` (a tenant's
        part of the feed), in the same order and under the same no-late-gaps rule, at
        most ``limit`` of them. The default reads the whole feed and keeps those; a
        driver that can select them in its storage overrides it."""
        left = limit
        if left == 0:
            return
        for event in self._feed(after, None):
            if event.stream.startswith(prefix):
                yield event
                if left is not None:
                    left -= 1
                    if left == 0:
                        return

    def _position(self) -> int:
        """The highest position :meth:`_feed` would deliver now; 0 when there is none."""
        raise self._unsupported("commit positions (store.position)")

    def _stream_entries(self, stream: str, after: int) -> Iterator[Entry]:
        """The entries of every writer of ``stream`` with ``position > after``, in position
        order, streamed (memory bounded), under the same no-late-gaps rule as :meth:`_feed`."""
        raise self._unsupported("reading a stream across writers (store.stream)")

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        """Erase the payload of entry ``seq`` for good and return the entry as now stored:
        ``payload == b""``, ``redacted`` True, seq, prev_hash, content_hash and position
        unchanged. The erased bytes must be gone from the storage (not only unreferenced).
        An entry already redacted is returned as it is. :meth:`_chain_rows` gives a
        redacted entry's payload as None.

        Raises:
            NotFound: the log has no entry ``seq``.
        """
        raise self._unsupported("erasure (log.redact)")

    def logs(self) -> list[tuple[str, str]]:
        """Every ``(stream, writer)`` holding entries, the store's own audit chain included."""
        with DriverCall("WriterLogStore.logs"):
            return list(self._logs())


__all__ = ["WriterLogStore"]
