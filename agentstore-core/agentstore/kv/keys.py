"""How the substrate lays its records out as keys and values.

Every key is a one-byte space tag followed by its components. A text component is its
UTF-8 bytes with each NUL escaped as ``00 FF`` and a ``00`` terminator, as FoundationDB's
tuple layer encodes strings: no two tuples of names share an encoding, whatever the names
hold (separators, NULs, any Unicode), and keys sort as the tuples of names do (UTF-8
bytes sort in code point order, as Python compares str). A seq is eight bytes
big-endian, so a range scan returns a log's entries in seq order. Every value read back
is checked before use: storage edited behind the store's back may hold anything.
"""

from __future__ import annotations

import struct
from typing import Final

from agentstore.types import Entry

VERSION_KEY: Final = b"v"
"""Marks storage holding a store; its value is :data:`FORMAT`."""
FORMAT: Final = b"agentstore-kv 1"

GENERATION: Final = b"g"
ENTRY: Final = b"e"
HEAD: Final = b"h"
POLICY: Final = b"p"
SESSION: Final = b"s"
CREDENTIAL: Final = b"c"
RATE_LIMIT: Final = b"r"
SLIDING_WINDOW: Final = b"w"
"""A rate-limit key's sliding window: the end of its current window and both counts."""
AGENT: Final = b"a"

SEQ_END: Final = b"\x80"
"""Sorts after every encoded seq (a seq is below 2**63, so its first byte is below 0x80)."""

_U64 = struct.Struct(">Q")
_WINDOW = struct.Struct(">dq")
_SLIDING = struct.Struct(">dqq")
_TIMES = struct.Struct(">dd")


def text(value: str) -> bytes:
    """One text component: escaped UTF-8 and a terminator (see the module docstring)."""
    return value.encode("utf-8").replace(b"\x00", b"\x00\xff") + b"\x00"


def key(space: bytes, *names: str) -> bytes:
    """The key of ``names`` in ``space``."""
    return space + b"".join(text(n) for n in names)


def split(raw: bytes, count: int) -> list[str] | None:
    """The first ``count`` text components of ``raw`` (without its space tag), or None
    when ``raw`` does not hold exactly that many."""
    names: list[str] = []
    i, n = 0, len(raw)
    while len(names) < count:
        j = raw.find(b"\x00", i)
        while 0 <= j < n - 1 and raw[j + 1] == 0xFF:  # an escaped NUL, not the terminator
            j = raw.find(b"\x00", j + 2)
        if j < 0:
            return None
        try:
            names.append(raw[i:j].replace(b"\x00\xff", b"\x00").decode("utf-8"))
        except UnicodeDecodeError:
            return None
        i = j + 1
    return names if i == n else None


def seq_bytes(seq: int) -> bytes:
    return _U64.pack(seq)


def prefix_end(prefix: bytes) -> bytes:
    """The least key after every key that starts with ``prefix`` (a non-empty prefix
    that is not all 0xFF)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes((stripped[-1] + 1,))


# -- values -------------------------------------------------------------------------------


def pack_entry(prev_hash: bytes | None, content_hash: bytes, payload: bytes) -> bytes:
    """An entry's value: each hash after a length byte (0 for no prev_hash), then the
    payload."""
    prev = b"" if prev_hash is None else prev_hash
    return bytes((len(prev),)) + prev + bytes((len(content_hash),)) + content_hash + payload


def unpack_entry(stream: str, writer: str, seq: int, raw: bytes) -> Entry | None:
    """The entry stored as ``raw``, or None when ``raw`` is not a packed entry."""
    if type(raw) is not bytes or not raw:
        return None
    n = raw[0]
    if len(raw) < n + 2:
        return None
    m = raw[n + 1]
    if len(raw) < n + 2 + m or m == 0:
        return None
    prev = raw[1 : n + 1] if n else None
    return Entry(stream, writer, seq, raw[n + 2 + m :], prev, raw[n + 2 : n + 2 + m])


def pack_head(seq: int, content_hash: bytes) -> bytes:
    return _U64.pack(seq) + content_hash


def unpack_head(raw: bytes | None) -> tuple[int, bytes | None]:
    """A recorded head: ``(0, None)`` when none is recorded, ``(-1, None)`` when the
    stored value is malformed (:func:`agentstore.sql.stores.check_head` refuses both
    a negative seq and a missing hash)."""
    if raw is None:
        return 0, None
    if type(raw) is not bytes or len(raw) <= _U64.size:
        return -1, None
    seq: int = _U64.unpack_from(raw)[0]
    return (seq, raw[_U64.size :]) if 0 < seq < 2**63 else (-1, None)


def pack_int(value: int) -> bytes:
    return _U64.pack(value)


def unpack_int(raw: bytes | None) -> int:
    return 0 if raw is None else int(_U64.unpack(raw)[0])


def pack_window(window_end: float, count: int) -> bytes:
    return _WINDOW.pack(window_end, count)


def unpack_window(raw: bytes) -> tuple[float, int]:
    end, count = _WINDOW.unpack(raw)
    return float(end), int(count)


def pack_sliding(window_end: float, current: int, previous: int) -> bytes:
    return _SLIDING.pack(window_end, current, previous)


def unpack_sliding(raw: bytes) -> tuple[float, int, int]:
    """``(end of the current window, its count, the previous window's count)``."""
    end, current, previous = _SLIDING.unpack(raw)
    return float(end), int(current), int(previous)


def pack_times(registered_at: float, last_heartbeat: float) -> bytes:
    return _TIMES.pack(registered_at, last_heartbeat)


def unpack_times(raw: bytes) -> tuple[float, float]:
    registered, heartbeat = _TIMES.unpack(raw)
    return float(registered), float(heartbeat)


__all__ = [
    "AGENT",
    "CREDENTIAL",
    "ENTRY",
    "FORMAT",
    "GENERATION",
    "HEAD",
    "POLICY",
    "RATE_LIMIT",
    "SEQ_END",
    "SESSION",
    "SLIDING_WINDOW",
    "VERSION_KEY",
    "key",
    "pack_entry",
    "pack_head",
    "prefix_end",
    "seq_bytes",
    "split",
    "text",
    "unpack_entry",
    "unpack_head",
]
