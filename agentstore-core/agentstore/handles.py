"""The handles users hold: one named generation, one writer's log in one stream.

A handle checks its arguments, calls its store's ``_``-prefixed hooks and turns driver
failures into StoreErrors; it adds no storage of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final, Protocol

from agentstore.chain import Verified
from agentstore.checks import (
    MAX_PAYLOAD_BYTES,
    check_int,
    check_name,
    check_payload,
    check_payloads,
    check_stream,
)
from agentstore.doorbell import Doorbell
from agentstore.errors import HeadMoved, InvalidInput, StoreError, native_error
from agentstore.translate import DEBUG, OPS, DriverCall, log_call
from agentstore.types import AuditEntry, CommitEvent, Entry, frozen_json

if TYPE_CHECKING:
    from agentstore.capabilities import AuditSink, GenerationStore, WriterLogStore
    from agentstore.crypto.signing import TrustedKey


MAX_REASON_LENGTH: Final = 1000
"""The longest ``reason`` :meth:`WriterLog.redact` accepts, in characters."""

REDACT_ACTION: Final = "redact"
"""The ``action`` of the audit record :meth:`WriterLog.redact` writes."""


def check_expect_head(value: object) -> int:
    """``expect_head`` as given to a conditional append: an int >= 0 (0: an empty log)."""
    return check_int(value, "expect_head", 0)


def check_reason(value: object) -> str:
    """A redaction's ``reason``: non-blank text of at most :data:`MAX_REASON_LENGTH`
    characters that JSON holds exactly (it is written to the audit chain)."""
    if not isinstance(value, str):
        raise InvalidInput(f"reason must be a str, not {type(value).__name__}")
    if not value.strip():
        raise InvalidInput("reason must not be empty: say why the entry is erased")
    if len(value) > MAX_REASON_LENGTH:
        raise InvalidInput(f"reason is {len(value)} characters; at most {MAX_REASON_LENGTH}")
    text = frozen_json(value, what="reason")
    assert isinstance(text, str)
    return text


def redaction_record(stream: str, writer: str, seq: int, reason: str) -> AuditEntry:
    """The audit entry recording a redaction: where and why, never what was erased."""
    return AuditEntry(
        action=REDACT_ACTION,
        detail={"stream": stream, "writer": writer, "seq": seq, "reason": reason},
    )


def event_of(entry: Entry) -> CommitEvent:
    """The doorbell's event for a committed ``entry``, its position included."""
    return CommitEvent(entry.stream, entry.writer, entry.seq, entry.content_hash, entry.position)


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
    :class:`~agentstore.types.CommitEvent` carrying the entry's position, never before the
    commit.
    """

    __slots__ = ("_audit", "_bell", "_signer", "_store", "stream", "writer")

    def __init__(
        self,
        store: WriterLogStore,
        doorbell: Doorbell,
        stream: str,
        writer: str,
        audit: AuditSink | None = None,
        *,
        signer: Checkpointer | None = None,
    ) -> None:
        self._store = store
        self._bell = doorbell
        self._audit = audit
        self.stream = check_stream(stream)
        self.writer = check_name(writer, "writer")
        self._signer = signer

    def append(self, payload: bytes, *, expect_head: int | None = None) -> Entry:
        """Append ``payload`` and return the committed entry.

        With ``expect_head=n`` the append happens only if the log's head seq is ``n`` at
        commit (0: the log is empty), atomically; otherwise HeadMoved (a Conflict) names the
        actual head and nothing is written. A caller that lost the answer to an append (a
        BackendUnavailable) retries with the same ``expect_head``: the turn is stored once.
        """
        if expect_head is not None:
            return self._append_if([check_payload(payload)], check_expect_head(expect_head))[0]
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
            self._bell.ring(event_of(entry))
        if OPS.isEnabledFor(DEBUG):
            done = f"seq {entry.seq}, {len(payload)} bytes"
            log_call("WriterLog.append", (self.stream, self.writer), done=done)
        return entry

    def append_many(
        self, payloads: Iterable[bytes], *, expect_head: int | None = None
    ) -> list[Entry]:
        """Append every payload in one transaction; all commit or none do.

        An empty iterable appends nothing and returns ``[]`` (with ``expect_head``, after
        checking the head: HeadMoved if it is not ``expect_head``). ``expect_head`` as for
        :meth:`append`: the whole batch is appended only after head ``expect_head``.
        """
        checked = check_payloads(payloads)
        if expect_head is not None:
            expected = check_expect_head(expect_head)
            if not checked:
                with DriverCall("WriterLog.append_many"):
                    head = self._store._head(self.stream, self.writer)
                actual = 0 if head is None else head.seq
                if actual != expected:
                    raise HeadMoved(self.stream, self.writer, expected, actual)
                return []
            return self._append_if(checked, expected)
        if not checked:
            return []
        with DriverCall("WriterLog.append_many", (self.stream, self.writer)):
            entries = self._store._append_many(self.stream, self.writer, checked)
        if self._signer is not None:
            self._checkpoint(entries[-1])
        if self._bell._subs:
            for e in entries:
                self._bell.ring(event_of(e))
        return entries

    def _append_if(self, payloads: list[bytes], expect_head: int) -> list[Entry]:
        with DriverCall("WriterLog.append"):
            entries = self._store._append_if(self.stream, self.writer, payloads, expect_head)
        if self._signer is not None and entries:
            self._checkpoint(entries[-1])
        if self._bell._subs:
            for e in entries:
                self._bell.ring(event_of(e))
        return entries

    def _checkpoint(self, entry: Entry) -> None:
        from agentstore.crypto.signing import record_checkpoint

        assert self._signer is not None
        record_checkpoint(self._store, self._signer, entry)

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
        from agentstore.crypto.signing import CHECKPOINT_STREAM, checkpoint_of

        head = self.head()
        if head is not None:
            payload = checkpoint_of(self._store, self._signer, head)
            with DriverCall("WriterLog.sign_head"):
                self._store._append(CHECKPOINT_STREAM, self.writer, payload)
        return head

    def head(self) -> Entry | None:
        """The last committed entry, or None when the log is empty."""
        with DriverCall("WriterLog.head", (self.stream, self.writer)):
            return self._store._head(self.stream, self.writer)

    def entries(self, after: int = 0) -> Iterator[Entry]:
        """Entries with ``seq > after``, in seq order, streamed from the store; a redacted
        entry comes marked ``redacted`` with an empty payload."""
        start = check_int(after, "after", 0)
        call = DriverCall("WriterLog.entries", (self.stream, self.writer))
        with call:
            return call.stream(self._store._entries(self.stream, self.writer, start))

    __iter__ = entries

    def redact(self, seq: int, *, reason: str) -> Entry:
        """Erase the payload of entry ``seq`` for good and return the entry as now stored.

        The entry keeps its seq, prev_hash, content_hash and position; ``entries()`` gives
        it with ``redacted`` True and payload ``b""``; :meth:`verify` still checks every
        link through it and counts it in ``Verified.redacted``. The erased bytes are gone
        from the storage, not only hidden. The redaction is then recorded on the store's
        audit chain (action ``"redact"``, detail: stream, writer, seq and ``reason``; never
        the payload). Redacting an entry already redacted changes and records nothing.

        ``reason`` is required: non-blank text of at most 1000 characters. It is stored on
        the audit chain, so it must not hold the personal data being erased.

        Raises:
            NotFound: the log has no entry ``seq``.
            Unsupported: the driver cannot erase.
        """
        target = check_int(seq, "seq", 1)
        why = check_reason(reason)
        with DriverCall("WriterLog.redact"):
            before = _first(self._store._entries(self.stream, self.writer, target - 1))
            if before is not None and before.seq == target and before.redacted:
                return before
            entry = self._store._redact(self.stream, self.writer, target)
            if self._audit is not None:
                self._audit.emit(redaction_record(self.stream, self.writer, target, why))
        return entry

    def verify(self, *, trusted: Iterable[TrustedKey] | None = None) -> Verified:
        """Check the whole chain in constant memory and return the number of entries, a
        :class:`~agentstore.chain.Verified` (an int) whose ``redacted`` counts the redacted
        entries among them.

        With ``trusted`` (fingerprints or public keys of the writer's signing keys), also
        prove authorship: every entry must be covered by a signed checkpoint (see
        :mod:`agentstore.crypto.signing`) of a trusted key, so a chain rewritten or
        extended by someone without such a key fails, naming the first seq no valid
        signature covers. Memory then grows with the number of checkpoints.

        What it proves: the stored entries are exactly a complete chain from seq 1 up to
        the log's recorded head (every link and content hash intact, nothing missing,
        nothing stored past the head), so an edit, a gap, a reorder or a truncation (the
        last entries, or the whole log, deleted) made without also rewriting the recorded
        head is caught. A redacted entry's content hash cannot be recomputed (its payload
        is gone), but the links into and out of it are checked. Entries appended while it
        runs may or may not be included. It does not prove who wrote an entry: anyone able
        to write the store can append a valid entry or rewrite the chain and its head
        consistently; authorship needs signatures (``trusted``).

        Raises:
            ChainBroken: naming the first seq at which the stored chain is not the one
                appended (a gap, a reorder, an edited payload or hash, a broken link, a
                truncated log: the first missing seq).
        """
        if trusted is not None:
            from agentstore.crypto.signing import verify_signed

            with DriverCall("WriterLog.verify", (self.stream, self.writer)):
                count = verify_signed(self._store, self.stream, self.writer, trusted)
        else:
            with DriverCall("WriterLog.verify", (self.stream, self.writer)):
                count = self._store._verify(self.stream, self.writer)
        return count if isinstance(count, Verified) else Verified(count)

    def __repr__(self) -> str:
        return f"WriterLog(stream={self.stream!r}, writer={self.writer!r})"


def _first(entries: Iterator[Entry]) -> Entry | None:
    """The first of ``entries``, closing the iterator (a driver's cursor) after it."""
    try:
        return next(iter(entries), None)
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()


class StreamView:
    """One stream read across all its writers: ``store.stream(name)``."""

    __slots__ = ("_store", "name")

    def __init__(self, store: WriterLogStore, name: str) -> None:
        self._store = store
        self.name = check_stream(name)

    def entries(self, after: int = 0) -> Iterator[Entry]:
        """The entries of every writer of the stream with ``position > after``, in position
        (commit) order, streamed in bounded memory.

        ``after`` is a position (an entry's ``position``, or a feed event's), so a reader
        resumes where it stopped; positions follow the feed's no-late-gaps rule.

        Raises:
            Unsupported: the driver gives no positions.
        """
        start = check_int(after, "after", 0)
        call = DriverCall("StreamView.entries")
        with call:
            return call.stream(self._store._stream_entries(self.name, start))

    __iter__ = entries

    def __repr__(self) -> str:
        return f"StreamView({self.name!r})"


__all__ = [
    "MAX_REASON_LENGTH",
    "REDACT_ACTION",
    "Checkpointer",
    "Generation",
    "StreamView",
    "WriterLog",
]
