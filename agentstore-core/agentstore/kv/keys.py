"""How the substrate lays its records out as keys and values.

Every key is a one-byte space tag followed by its components. A text component is its
UTF-8 bytes with each NUL escaped as ``00 FF`` and a ``00`` terminator, as FoundationDB's
tuple layer encodes strings: no two tuples of names share an encoding, whatever the names
hold (separators, NULs, any Unicode), and keys sort as the tuples of names do (UTF-8
bytes sort in code point order, as Python compares str). A seq is eight bytes
big-endian, so a range scan returns a log's entries in seq order. Every value read back
is checked before use: storage edited behind the store's back may hold anything.

A tenant's policies, sessions and agents (``store.tenant(name)``) lie under the tenant's
scope, :func:`tenant_scope`: the space tag ``t`` and the tenant's name as a text
component, then the keys laid out as the root store lays out its own. No root key starts
with ``t``, and a text component ends where it is read to end, so the keys of the root
and of every tenant are pairwise distinct and a range scan of one tenant's space reaches
none of the others'. The root's keys are those of a store written before tenants.
"""

from __future__ import annotations

import struct
from typing import Final

from agentstore.types import CommitEvent, Entry

VERSION_KEY: Final = b"v"
"""Marks storage holding a store; its value is :data:`FORMAT`."""
FORMAT: Final = b"agentstore-kv 2"
"""Format 2 gives every entry a position (the commit feed); a format-1 store is upgraded
in place when opened with ``create`` (see :func:`agentstore.kv.upgrade.upgrade`)."""
FORMAT_1: Final = b"agentstore-kv 1"

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
POSITION: Final = b"n"
"""The store-wide position counter: the last position given, moved in the same commit as
the entries it numbers."""
FEED: Final = b"f"
"""The commit feed: ``FEED + position`` holds the entry's stream, writer, seq and hash."""
STREAM: Final = b"o"
"""Each stream's entries in position order: ``STREAM + text(stream) + position`` holds the
entry's writer and seq."""
TENANT: Final = b"t"
"""A tenant's scope: ``TENANT + text(tenant)`` prefixes its policy, session and agent keys."""

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


def tenant_scope(tenant: str) -> bytes:
    """The prefix of tenant ``tenant``'s keys (see the module docstring)."""
    return TENANT + text(tenant)


def split(raw: bytes, count: int) -> list[str] | None:
    """The first ``count`` text components of ``raw`` (without its space tag), or None
    when ``raw`` does not hold exactly that many."""
    found = split_prefix(raw, count)
    return None if found is None or found[1] != len(raw) else found[0]


def split_prefix(raw: bytes, count: int) -> tuple[list[str], int] | None:
    """The first ``count`` text components of ``raw`` and the index after them, or None
    when ``raw`` does not start with that many."""
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
    return names, i


def seq_bytes(seq: int) -> bytes:
    return _U64.pack(seq)


def prefix_end(prefix: bytes) -> bytes:
    """The least key after every key that starts with ``prefix`` (a non-empty prefix
    that is not all 0xFF)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes((stripped[-1] + 1,))


# -- values -------------------------------------------------------------------------------


_POSITIONED: Final = 0xFF
"""First byte of a format-2 entry value; a format-1 value starts with its prev_hash's
length (0 or 32), never 0xFF."""
_REDACTED: Final = 1


def pack_entry(
    prev_hash: bytes | None,
    content_hash: bytes,
    payload: bytes,
    position: int = 0,
    redacted: bool = False,
) -> bytes:
    """An entry's value: 0xFF, the position (eight bytes), a flags byte (1: redacted),
    then each hash after a length byte (0 for no prev_hash), then the payload."""
    prev = b"" if prev_hash is None else prev_hash
    head = bytes((_POSITIONED,)) + _U64.pack(position) + bytes((_REDACTED if redacted else 0,))
    return head + bytes((len(prev),)) + prev + bytes((len(content_hash),)) + content_hash + payload


def unpack_entry(stream: str, writer: str, seq: int, raw: bytes) -> Entry | None:
    """The entry stored as ``raw`` (format 2, or format 1: position 0), or None when
    ``raw`` is not a packed entry."""
    if type(raw) is not bytes or not raw:
        return None
    position, redacted, i = 0, False, 0
    if raw[0] == _POSITIONED:
        if len(raw) < 10 or raw[9] & ~_REDACTED:
            return None
        position, redacted, i = _U64.unpack_from(raw, 1)[0], bool(raw[9]), 10
    if len(raw) < i + 1:
        return None
    n = raw[i]
    if len(raw) < i + n + 2:
        return None
    m = raw[i + n + 1]
    if len(raw) < i + n + 2 + m or m == 0:
        return None
    prev = raw[i + 1 : i + n + 1] if n else None
    payload = raw[i + n + 2 + m :]
    if redacted and payload:
        return None
    digest = raw[i + n + 2 : i + n + 2 + m]
    return Entry(stream, writer, seq, payload, prev, digest, position, redacted)


def pack_event(stream: str, writer: str, seq: int, content_hash: bytes) -> bytes:
    """A feed key's value: where the entry at that position lies, and its hash."""
    return text(stream) + text(writer) + _U64.pack(seq) + content_hash


def unpack_event(position: int, raw: bytes) -> CommitEvent | None:
    """The event stored as ``raw`` at ``position``, or None when it is malformed."""
    found = split_prefix(raw, 2) if type(raw) is bytes else None
    if found is None or len(raw) < found[1] + _U64.size + 1:
        return None
    (stream, writer), i = found
    seq = _U64.unpack_from(raw, i)[0]
    return CommitEvent(stream, writer, seq, raw[i + _U64.size :], position)


def pack_member(writer: str, seq: int) -> bytes:
    """A stream index key's value: the entry's writer and seq."""
    return text(writer) + _U64.pack(seq)


def unpack_member(raw: bytes) -> tuple[str, int] | None:
    """The ``(writer, seq)`` stored as ``raw``, or None when it is malformed."""
    found = split_prefix(raw, 1) if type(raw) is bytes else None
    if found is None or len(raw) != found[1] + _U64.size:
        return None
    return found[0][0], _U64.unpack_from(raw, found[1])[0]


def position_bytes(position: int) -> bytes:
    return _U64.pack(position)


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


EXPIRING: Final = 0xFF
"""The byte after a session value's agent id marking an expiry (a record's JSON starts
with ``{``, so a value without one never has it there)."""
_EXPIRY = struct.Struct(">d")


def pack_session(agent: bytes, data_json: bytes, expires_at: float | None) -> bytes:
    """A session's value: the agent id's 16 bytes, then, when it expires, :data:`EXPIRING`
    and the expiry as a big-endian double, then the data's JSON."""
    if expires_at is None:
        return agent + data_json
    return agent + bytes((EXPIRING,)) + _EXPIRY.pack(expires_at) + data_json


def unpack_session(raw: bytes) -> tuple[bytes, float | None, bytes]:
    """``(agent id bytes, expiry or None, data JSON)`` of a value :func:`pack_session`
    wrote (a value written before sessions expired reads as never expiring)."""
    if len(raw) > 16 and raw[16] == EXPIRING:
        return raw[:16], float(_EXPIRY.unpack_from(raw, 17)[0]), raw[17 + _EXPIRY.size :]
    return raw[:16], None, raw[16:]


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
    "FEED",
    "FORMAT",
    "FORMAT_1",
    "GENERATION",
    "HEAD",
    "POLICY",
    "POSITION",
    "RATE_LIMIT",
    "SEQ_END",
    "SESSION",
    "SLIDING_WINDOW",
    "STREAM",
    "TENANT",
    "VERSION_KEY",
    "key",
    "pack_entry",
    "pack_event",
    "pack_head",
    "pack_member",
    "pack_session",
    "position_bytes",
    "prefix_end",
    "seq_bytes",
    "split",
    "split_prefix",
    "tenant_scope",
    "text",
    "unpack_entry",
    "unpack_event",
    "unpack_head",
    "unpack_member",
    "unpack_session",
]
