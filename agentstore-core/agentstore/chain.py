"""The BLAKE3 hash chain shared by every log, byte-compatible with the agent-store seed.

``content_hash = BLAKE3(prev_hash || payload)``; the genesis entry has no ``prev_hash`` and
hashes the payload alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from blake3 import blake3

from agentstore.errors import ChainBroken

ChainRow = tuple[int, bytes | None, bytes | None, bytes]
"""``(seq, payload, prev_hash, content_hash)`` as a driver reads it back; ``payload`` is
None for a redacted entry (its payload erased, its hashes kept)."""


class Verified(int):
    """What verifying a chain returns: the number of entries (it *is* that int, so
    ``log.verify() == 3`` holds), with ``redacted``, how many of them are redacted.

    A redacted entry's content hash cannot be recomputed (its payload is gone); every link
    through it is still checked: its ``prev_hash`` is the previous entry's hash and the
    next entry's ``prev_hash`` (or the recorded head) is its hash.
    """

    redacted: int

    def __new__(cls, count: int, redacted: int = 0) -> Verified:
        self = super().__new__(cls, count)
        self.redacted = redacted
        return self

    # Printed as the count it was before it carried ``redacted``: code that prints or
    # formats a verify() result sees what it always did.
    __repr__ = __str__ = int.__repr__

    def __reduce__(self) -> tuple[type[Verified], tuple[int, int]]:
        return Verified, (int(self), self.redacted)


def chain_hash(prev_hash: bytes | None, payload: bytes) -> bytes:
    """The content hash of ``payload`` appended after an entry whose hash is ``prev_hash``."""
    if prev_hash is None:
        return blake3(payload).digest()
    return blake3(prev_hash + payload).digest()


def verify_rows(
    stream: str,
    writer: str,
    rows: Iterable[ChainRow],
    *,
    start_seq: int = 1,
    start_prev: bytes | None = None,
) -> tuple[Verified, bytes | None]:
    """Check rows in seq order; return ``(count, last content_hash)``, the count a
    :class:`Verified` telling how many rows were redacted (payload None).

    Consumes ``rows`` lazily, holding one row at a time, so memory does not grow with the
    chain. ``start_seq``/``start_prev`` let a caller check one slice of a longer chain. A
    redacted row's content hash is not recomputed (its payload is gone); its links are
    checked as every other row's.

    Raises:
        ChainBroken: at the first seq where the rows stop being a valid chain: a missing or
            repeated seq, a ``prev_hash`` that is not the previous entry's hash, or a
            ``content_hash`` that does not match the payload.
    """
    expected = start_seq
    prev = start_prev
    redacted = 0
    # One hasher, reset after each row: a fresh blake3() per row costs a third more.
    hasher = blake3()
    update, digest, reset = hasher.update, hasher.digest, hasher.reset
    for seq, payload, prev_hash, content_hash in rows:
        if seq != expected:
            detail = (
                f"expected seq {expected}, found {seq} (entry missing)"
                if seq > expected
                else f"expected seq {expected}, found {seq} (out of order or repeated)"
            )
            raise ChainBroken(stream, writer, expected, detail)
        if prev_hash != prev:
            raise ChainBroken(
                stream, writer, seq, "prev_hash does not match the previous entry's hash"
            )
        if payload is None:  # redacted: the link is checked, the hash cannot be
            if type(content_hash) is not bytes:
                raise ChainBroken(stream, writer, seq, "a redacted entry has no content_hash")
            redacted += 1
            prev = content_hash
            expected += 1
            continue
        try:
            update(payload if prev is None else prev + payload)
        except TypeError:  # buffers that do not concatenate (memoryview): hash them in turn
            reset()
            if prev is not None:
                update(prev)
            update(payload)
        if digest() != content_hash:
            raise ChainBroken(stream, writer, seq, "content_hash does not match the payload")
        reset()
        prev = content_hash
        expected += 1
    return Verified(expected - start_seq, redacted), prev


Head = tuple[int, bytes | None]
"""A log's recorded head ``(seq, content_hash)``; ``(0, None)`` when none is recorded."""


def check_head(
    stream: str,
    writer: str,
    count: int,
    last_hash: bytes | None,
    *,
    first: Head,
    at_first: Sequence[bytes],
    read_head: Callable[[str, str], Head] | None,
) -> None:
    """Check a verified chain of ``count`` entries (ending in ``last_hash``) against the
    recorded head: ``first``, read before the entries, and one read now by ``read_head``
    (when None, ``first`` stands for both).

    ``at_first`` holds the stored hash of entry ``first[0]`` when the chain reached it.
    Entries appended while the chain was read may follow ``first``; none may be missing
    before it, and none may lie past the head recorded after the read.

    Raises:
        ChainBroken: the log was truncated (naming the first missing seq), holds entries
            past its recorded head, or its entry at the head's seq is not the one recorded.
    """
    if not _well_formed(first):
        raise ChainBroken(stream, writer, count + 1, "the log's recorded head is malformed")
    head_seq, head_hash = first
    if count < head_seq:
        missing = (
            f"entry {head_seq}" if count + 1 == head_seq else f"entries {count + 1}..{head_seq}"
        )
        raise ChainBroken(stream, writer, count + 1, f"{missing} missing: the log was truncated")
    if head_seq and at_first and at_first[0] != head_hash:
        raise ChainBroken(
            stream, writer, head_seq, "the entry's content_hash is not the recorded head's"
        )
    if count > head_seq:
        now = first if read_head is None else read_head(stream, writer)
        if not _well_formed(now):
            raise ChainBroken(stream, writer, count + 1, "the log's recorded head is malformed")
        now_seq, now_hash = now
        if count > now_seq:
            recorded = f"seq {now_seq}" if now_seq else "none is recorded"
            raise ChainBroken(
                stream,
                writer,
                now_seq + 1,
                f"entries {now_seq + 1}..{count} lie past the log's recorded head ({recorded})",
            )
        if count == now_seq and last_hash != now_hash:
            raise ChainBroken(
                stream, writer, count, "the entry's content_hash is not the recorded head's"
            )


def verify_to_head(
    stream: str,
    writer: str,
    rows: Iterable[ChainRow],
    read_head: Callable[[str, str], Head],
    *,
    first: Head | None = None,
) -> Verified:
    """Verify the chain ``rows`` (read lazily) against the log's recorded head; return its
    length (a :class:`Verified`, counting the redacted rows too).

    The head is read before the rows (``first``, when the caller already read it) and
    again after them, so entries appended meanwhile pass, none committed before the first
    read may be missing, and none may lie past the second.

    Raises:
        ChainBroken: as :func:`verify_rows` and :func:`check_head`.
    """
    if first is None:
        first = read_head(stream, writer)
    head_seq = first[0]
    at_first: list[bytes] = []

    def checked() -> Iterator[ChainRow]:
        for row in rows:
            yield row
            if row[0] == head_seq:
                at_first.append(row[3])  # reached only once verify_rows accepted it

    count, last = verify_rows(stream, writer, checked())
    check_head(stream, writer, count, last, first=first, at_first=at_first, read_head=read_head)
    return count


def _well_formed(head: Head) -> bool:
    """Whether a recorded head read back is a seq and a hash (an edit can store anything)."""
    seq, digest = head
    if type(seq) is not int:
        return False
    if seq == 0 and digest is None:  # no head recorded
        return True
    return seq > 0 and type(digest) is bytes  # as every stored hash


__all__ = [
    "ChainRow",
    "Head",
    "Verified",
    "chain_hash",
    "check_head",
    "verify_rows",
    "verify_to_head",
]
