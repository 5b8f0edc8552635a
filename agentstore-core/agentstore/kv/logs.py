"""Generations and chained writer logs over the key-value primitives.

Every change is one :meth:`~agentstore.kv.KeyValue.commit` guarded by the value it was
computed from; a commit that loses a race is computed again from what won. So the
guarantees hold wherever the driver's commit is atomic: across threads, and across
processes for a driver whose storage is shared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from agentstore.capabilities import MAX_INT, GenerationStore, WriterLogStore
from agentstore.chain import ChainRow, chain_hash, verify_to_head
from agentstore.errors import ChainBroken, NonMonotonicGeneration, StoreError
from agentstore.kv import keys
from agentstore.kv.primitives import Lifetime, Writes
from agentstore.types import Entry


class KvGenerationStore(GenerationStore):
    """Generations, one key each; a bump is a compare-and-set retried until it wins."""

    def __init__(self, kv: Lifetime) -> None:
        self._kv = kv

    def _current(self, name: str) -> int:
        return keys.unpack_int(self._kv.get(keys.key(keys.GENERATION, name)))

    def _bump(self, name: str) -> int:
        def bump(raw: bytes | None) -> tuple[Writes, int]:
            value = keys.unpack_int(raw) + 1
            if value > MAX_INT:
                raise StoreError(f"generation {name!r} is at its limit, {MAX_INT}")
            return {k: keys.pack_int(value)}, value

        k = keys.key(keys.GENERATION, name)
        return self._kv.update(k, bump)

    def _advance_to(self, name: str, value: int) -> int:
        def advance(raw: bytes | None) -> tuple[Writes | None, int]:
            current = keys.unpack_int(raw)
            if value < current:
                raise NonMonotonicGeneration(name, current, value)
            return (None if value == current else {k: keys.pack_int(value)}), value

        k = keys.key(keys.GENERATION, name)
        return self._kv.update(k, advance)


class KvLogStore(WriterLogStore):
    """Chained logs: one key per entry, and each log's head recorded under a key of its
    own, moved in the same commit as the entries it covers.

    An append builds on the recorded head, never on the last stored entry, and commits
    only if the head is still the one it read: concurrent appends from any thread or
    process that shares the storage serialize, with contiguous seqs and nothing lost.
    Entries deleted behind the store's back are not silently replaced: a later append
    lands after the recorded head, and :meth:`verify` reports the missing entries.
    """

    MAX_CACHED_HEADS: Final = 4096

    def __init__(self, kv: Lifetime) -> None:
        self._kv = kv
        # The recorded head last seen per log, as stored: an append first tries on it,
        # saving a read; a stale one only costs a failed commit and a read.
        self._heads: dict[tuple[str, str], bytes] = {}

    # -- appends ---------------------------------------------------------------------------

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return self._append_many(stream, writer, (payload,))[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        head_key = keys.key(keys.HEAD, stream, writer)
        entry_prefix = keys.key(keys.ENTRY, stream, writer)

        def append(raw: bytes | None) -> tuple[Writes, list[Entry]]:
            seq, prev = keys.unpack_head(raw)
            if seq < 0:
                raise ChainBroken(stream, writer, 1, "the log's recorded head is malformed")
            out: list[Entry] = []
            writes: dict[bytes, bytes | None] = {}
            for payload in payloads:
                seq += 1
                digest = chain_hash(prev, payload)
                writes[entry_prefix + keys.seq_bytes(seq)] = keys.pack_entry(prev, digest, payload)
                out.append(Entry(stream, writer, seq, payload, prev, digest))
                prev = digest
            writes[head_key] = keys.pack_head(seq, digest)
            return writes, out

        log = (stream, writer)
        cached = self._heads.get(log)
        entries = self._kv.update(head_key, append, known=cached, use_known=cached is not None)
        self._remember(log, keys.pack_head(entries[-1].seq, entries[-1].content_hash))
        return entries

    def _remember(self, log: tuple[str, str], head: bytes) -> None:
        if len(self._heads) >= self.MAX_CACHED_HEADS:
            self._heads.clear()
        self._heads[log] = head

    # -- reads -----------------------------------------------------------------------------

    def _read_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        return keys.unpack_head(self._kv.get(keys.key(keys.HEAD, stream, writer)))

    def _head(self, stream: str, writer: str) -> Entry | None:
        seq, _ = self._read_head(stream, writer)
        if seq == 0:
            return None
        if seq < 0:
            raise ChainBroken(stream, writer, 1, "the log's recorded head is malformed")
        raw = self._kv.get(keys.key(keys.ENTRY, stream, writer) + keys.seq_bytes(seq))
        entry = None if raw is None else keys.unpack_entry(stream, writer, seq, raw)
        if entry is None:
            detail = "missing" if raw is None else "malformed"
            raise ChainBroken(stream, writer, seq, f"the entry at the recorded head is {detail}")
        return entry

    def _stored(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        """Stored entries with ``seq > after`` in seq order; ChainBroken at one whose
        value is not an entry."""
        prefix = keys.key(keys.ENTRY, stream, writer)
        start = prefix + keys.seq_bytes(after + 1)
        for k, raw in self._kv.items(start, prefix + keys.SEQ_END):
            seq = int.from_bytes(k[len(prefix) : len(start)], "big")
            entry = keys.unpack_entry(stream, writer, seq, raw) if len(k) == len(start) else None
            if entry is None:
                raise ChainBroken(stream, writer, seq, "a stored entry is malformed")
            yield entry

    _entries = _stored

    def _chain_rows(self, stream: str, writer: str) -> Iterator[ChainRow]:
        for e in self._stored(stream, writer, 0):
            yield e.seq, e.payload, e.prev_hash, e.content_hash

    def _verify(self, stream: str, writer: str) -> int:
        return verify_to_head(stream, writer, self._chain_rows(stream, writer), self._read_head)

    def _logs(self) -> Iterator[tuple[str, str]]:
        # Every log with an entry has a recorded head, kept when its entries are deleted
        # (so such a log is still listed, and verified). Keys sort as the names do.
        for k, _ in self._kv.items(keys.HEAD, keys.prefix_end(keys.HEAD)):
            names = keys.split(k[1:], 2)
            if names is not None:
                yield names[0], names[1]

    def tamper(self, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
        """Overwrite the stored entry at ``seq`` with ``entry``'s payload and hashes, or
        delete it when ``entry`` is None, leaving the recorded head alone: for
        tamper-detection tests only."""
        k = keys.key(keys.ENTRY, stream, writer) + keys.seq_bytes(seq)
        if entry is None:
            self._kv.delete(k)
        else:
            self._kv.put(k, keys.pack_entry(entry.prev_hash, entry.content_hash, entry.payload))
        self._heads.pop((stream, writer), None)


__all__ = ["KvGenerationStore", "KvLogStore"]
