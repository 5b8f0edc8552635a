"""The BLAKE3 hash chain shared by every log, byte-compatible with the agent-store seed.

``content_hash = BLAKE3(prev_hash || payload)``; the genesis entry has no ``prev_hash`` and
hashes the payload alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from blake3 import blake3

from agentstore.errors import ChainBroken

ChainRow = tuple[int, bytes, bytes | None, bytes]
"""``(seq, payload, prev_hash, content_hash)`` as a driver reads it back."""


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
) -> tuple[int, bytes | None]:
    """Check rows in seq order; return ``(count, last content_hash)``.

    Consumes ``rows`` lazily, holding one row at a time, so memory does not grow with the
    chain. ``start_seq``/``start_prev`` let a caller check one slice of a longer chain.

    Raises:
        ChainBroken: at the first seq where the rows stop being a valid chain: a missing or
            repeated seq, a ``prev_hash`` that is not the previous entry's hash, or a
            ``content_hash`` that does not match the payload.
    """
    expected = start_seq
    prev = start_prev
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
    return expected - start_seq, prev
