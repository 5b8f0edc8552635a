"""Upgrading a key-value store in place from format 1 (no positions) to format 2.

Format 1 entries carry no position. The upgrade gives each one a position, log by log in
key order (stream, then writer, then seq: the only order format 1 kept), writing its
feed and stream index keys and moving the position counter in the same commit, one page
of one log per commit, each guarded by the values it read. It is idempotent and can be
interrupted: an entry already positioned is skipped, and the format mark moves to 2 only
once every entry is positioned. Processes running an agentstore that knows only format 1
must be stopped first: they would keep writing unpositioned entries.
"""

from __future__ import annotations

from typing import Final

from agentstore.kv import keys
from agentstore.kv.primitives import Lifetime

BATCH: Final = 500
"""Entries positioned per commit."""


def upgrade(kv: Lifetime) -> None:
    """Position every format-1 entry, then mark the storage as format 2 (see the module
    docstring)."""
    for head_key, _ in list(kv.items(keys.HEAD, keys.prefix_end(keys.HEAD))):
        names = keys.split(head_key[1:], 2)
        if names is not None:
            _position_log(kv, names[0], names[1])
    kv.commit({keys.VERSION_KEY: keys.FORMAT_1}, {keys.VERSION_KEY: keys.FORMAT})


def _position_log(kv: Lifetime, stream: str, writer: str) -> None:
    prefix = keys.key(keys.ENTRY, stream, writer)
    stream_prefix = keys.key(keys.STREAM, stream)
    after = 0
    while True:
        pairs = list(kv.scan(prefix + keys.seq_bytes(after + 1), prefix + keys.SEQ_END, BATCH))
        if not pairs:
            return
        counter_raw = kv.get(keys.POSITION)
        position = keys.unpack_int(counter_raw)
        expect: dict[bytes, bytes | None] = {keys.POSITION: counter_raw}
        writes: dict[bytes, bytes | None] = {}
        for k, raw in pairs:
            seq = int.from_bytes(k[len(prefix) :], "big")
            entry = keys.unpack_entry(stream, writer, seq, raw)
            if entry is None or entry.position:
                continue  # malformed (verify reports it) or already positioned
            position += 1
            at = keys.position_bytes(position)
            expect[k] = raw
            writes[k] = keys.pack_entry(
                entry.prev_hash, entry.content_hash, entry.payload, position
            )
            writes[keys.FEED + at] = keys.pack_event(stream, writer, seq, entry.content_hash)
            writes[stream_prefix + at] = keys.pack_member(writer, seq)
        if writes:
            writes[keys.POSITION] = keys.pack_int(position)
            if not kv.commit(expect, writes):
                continue  # another opener positioned some of these: read the page again
        after = int.from_bytes(pairs[-1][0][len(prefix) :], "big")


__all__ = ["BATCH", "upgrade"]
