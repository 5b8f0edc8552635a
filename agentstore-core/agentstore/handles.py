"""The handles users hold: one named generation, one writer's log in one stream.

A handle checks its arguments, calls its store's ``_``-prefixed hooks and turns driver
failures into StoreErrors; it adds no storage of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from agentstore.checks import MAX_PAYLOAD_BYTES, check_int, check_name, check_payload, check_stream
from agentstore.doorbell import Doorbell
from agentstore.errors import InvalidInput, StoreError, native_error
from agentstore.translate import DEBUG, OPS, DriverCall, log_call
from agentstore.types import CommitEvent, Entry

if TYPE_CHECKING:
    from agentstore.capabilities import GenerationStore, WriterLogStore
    from agentstore.crypto.signing import TrustedKey

_log = logging.getLogger("agentstore")


class Checkpointer(Protocol):
    """What signs a log's head (see :class:`agentstore.crypto.signing.Signer`)."""

    def checkpoint(self, entry: Entry) -> bytes: ...


class Generation:
    """A handle on one named generation; see :class:`GenerationStore` for the guarantees."""

    __slots__ = ("_store", "name")

    def __init__(self, store: GenerationStore, name: str) -> None:
        self._store = store
        self.name = check_name(name, "generation name")

    def current(self) -> int:
        """The current value (0 if never bumped)."""
        try:
            value = self._store._current(self.name)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("Generation.current failed in the driver", exc) from exc
        if OPS.isEnabledFor(DEBUG):
            log_call("Generation.current", self.name, done=str(value))
        return value

    def bump(self) -> int:
        """Atomically add one and return the new value."""
        try:
            value = self._store._bump(self.name)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("Generation.bump failed in the driver", exc) from exc
        if OPS.isEnabledFor(DEBUG):
            log_call("Generation.bump", self.name, done=str(value))
        return value

    def advance_to(self, value: int) -> int:
        """Move forward to ``value``; refuses to move backward (NonMonotonicGeneration)."""
        target = check_int(value, "value", 0)
        with DriverCall("Generation.advance_to", self.name):
            return self._store._advance_to(self.name, target)

    def __repr__(self) -> str:
        return f"Generation({self.name!r})"


class WriterLog:
    """One writer's chained log in one stream: ``store.log(stream, writer=...)``.

    See :class:`WriterLogStore` for the ordering guarantees. After each committed append
    the store's :class:`~agentstore.doorbell.Doorbell` rings with a
    :class:`~agentstore.types.CommitEvent`, never before the commit.
    """

    __slots__ = ("_bell", "_signer", "_store", "stream", "writer")

    def __init__(
        self,
        store: WriterLogStore,
        doorbell: Doorbell,
        stream: str,
        writer: str,
        signer: Checkpointer | None = None,
    ) -> None:
        self._store = store
        self._bell = doorbell
        self.stream = check_stream(stream)
        self.writer = check_name(writer, "writer")
        self._signer = signer

    def append(self, payload: bytes) -> Entry:
        """Append ``payload`` and return the committed entry."""
        if type(payload) is not bytes or len(payload) > MAX_PAYLOAD_BYTES:
            payload = check_payload(payload)
        try:
            entry = self._store._append(self.stream, self.writer, payload)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("WriterLog.append failed in the driver", exc) from exc
        if self._signer is not None:
            self._checkpoint(entry)
        if self._bell._subs:
            self._bell.ring(CommitEvent(entry.stream, entry.writer, entry.seq, entry.content_hash))
        if OPS.isEnabledFor(DEBUG):
            done = f"seq {entry.seq}, {len(payload)} bytes"
            log_call("WriterLog.append", (self.stream, self.writer), done=done)
        return entry

    def append_many(self, payloads: Iterable[bytes]) -> list[Entry]:
        """Append every payload in one transaction; all commit or none do.

        An empty iterable appends nothing and returns ``[]``.
        """
        checked = [check_payload(p, f"payload #{i}") for i, p in enumerate(payloads)]
        if not checked:
            return []
        with DriverCall("WriterLog.append_many", (self.stream, self.writer)):
            entries = self._store._append_many(self.stream, self.writer, checked)
        if self._signer is not None:
            self._checkpoint(entries[-1])
        if self._bell._subs:
            for e in entries:
                self._bell.ring(CommitEvent(e.stream, e.writer, e.seq, e.content_hash))
        return entries

    def _checkpoint(self, entry: Entry) -> None:
        # The entry is committed: a failed checkpoint must not make the caller retry it.
        # The entries stay unsigned until the next signed append (or sign_head()).
        from agentstore.crypto.signing import CHECKPOINT_STREAM

        assert self._signer is not None
        try:
            self._store._append(CHECKPOINT_STREAM, self.writer, self._signer.checkpoint(entry))
        except Exception as exc:
            _log.warning(
                "log (%r, %r): seq %d committed but its signed checkpoint was not "
                "written (%s); it is covered by the next signed append",
                self.stream,
                self.writer,
                entry.seq,
                type(exc).__name__,
            )

    def sign_head(self) -> Entry | None:
        """Record a signed checkpoint of the current head (a log opened with a signing
        key); returns the head signed, or None for an empty log. Appends sign on their
        own; this covers entries left unsigned by a crash between an append and its
        checkpoint.

        Raises:
            InvalidInput: the log was opened without a signing key.
        """
        if self._signer is None:
            raise InvalidInput("sign_head needs a log opened with signing_key=")
        from agentstore.crypto.signing import CHECKPOINT_STREAM

        head = self.head()
        if head is not None:
            payload = self._signer.checkpoint(head)
            with DriverCall("WriterLog.sign_head"):
                self._store._append(CHECKPOINT_STREAM, self.writer, payload)
        return head

    def head(self) -> Entry | None:
        """The last committed entry, or None when the log is empty."""
        with DriverCall("WriterLog.head", (self.stream, self.writer)):
            return self._store._head(self.stream, self.writer)

    def entries(self, after: int = 0) -> Iterator[Entry]:
        """Entries with ``seq > after``, in seq order, streamed from the store."""
        start = check_int(after, "after", 0)
        call = DriverCall("WriterLog.entries", (self.stream, self.writer))
        with call:
            return call.stream(self._store._entries(self.stream, self.writer, start))

    __iter__ = entries

    def verify(self, *, trusted: Iterable[TrustedKey] | None = None) -> int:
        """Check the whole chain in constant memory and return the number of entries.

        With ``trusted`` (fingerprints or public keys of the writer's signing keys), also
        prove authorship: every entry must be covered by a signed checkpoint (see
        :mod:`agentstore.crypto.signing`) of a trusted key, so a chain rewritten or
        extended by someone without such a key fails, naming the first seq no valid
        signature covers. Memory then grows with the number of checkpoints.

        What it proves: the stored entries are exactly a complete chain from seq 1 up to
        the log's recorded head (every link and content hash intact, nothing missing,
        nothing stored past the head), so an edit, a gap, a reorder or a truncation (the
        last entries, or the whole log, deleted) made without also rewriting the recorded
        head is caught. Entries appended while it runs may or may not be included. It does
        not prove who wrote an entry: anyone able to write the store can append a valid
        entry or rewrite the chain and its head consistently; authorship needs signatures.

        Raises:
            ChainBroken: naming the first seq at which the stored chain is not the one
                appended (a gap, a reorder, an edited payload or hash, a broken link, a
                truncated log: the first missing seq).
        """
        if trusted is not None:
            from agentstore.crypto.signing import verify_signed

            with DriverCall("WriterLog.verify", (self.stream, self.writer)):
                return verify_signed(self._store, self.stream, self.writer, trusted)
        with DriverCall("WriterLog.verify", (self.stream, self.writer)):
            return self._store._verify(self.stream, self.writer)

    def __repr__(self) -> str:
        return f"WriterLog(stream={self.stream!r}, writer={self.writer!r})"


__all__ = ["Checkpointer", "Generation", "WriterLog"]
