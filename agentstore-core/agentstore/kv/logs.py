"""Generations and chained writer logs over the key-value primitives.

Every change is one :meth:`~agentstore.kv.KeyValue.commit` guarded by the value it was
computed from; a commit that loses a race is computed again from what won. So the
guarantees hold wherever the driver's commit is atomic: across threads, and across
processes for a driver whose storage is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Final

from agentstore.capabilities import MAX_INT, GenerationStore, WriterLogStore
from agentstore.chain import ChainRow, chain_hash, verify_to_head
from agentstore.errors import ChainBroken, HeadMoved, NonMonotonicGeneration, NotFound, StoreError
from agentstore.kv import keys
from agentstore.kv.primitives import MAX_REFUSALS, PAGE_SIZE, Lifetime, Writes
from agentstore.types import CommitEvent, Entry


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

    Positions: one store-wide counter key (:data:`~agentstore.kv.keys.POSITION`) is
    guarded and moved by the same commit as the entries it numbers, beside a feed key and
    a stream index key per entry. Positions therefore commit in order (every commit that
    takes a position waits for the one before it), and a reader that delivers only
    positions at most the counter it read first never skips one that commits later.
    """

    MAX_CACHED_HEADS: Final = 4096

    def __init__(self, kv: Lifetime) -> None:
        self._kv = kv
        # The recorded head last seen per log, as stored: an append first tries on it,
        # saving a read; a stale one only costs a failed commit and a read.
        self._heads: dict[tuple[str, str], bytes] = {}

    # -- appends ---------------------------------------------------------------------------

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return self._commit(stream, writer, (payload,), None)[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        return self._commit(stream, writer, payloads, None)

    def _append_if(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int
    ) -> list[Entry]:
        return self._commit(stream, writer, payloads, expect_head)

    def _commit(
        self, stream: str, writer: str, payloads: Sequence[bytes], expect_head: int | None
    ) -> list[Entry]:
        """Chain ``payloads`` after the recorded head and commit them with their positions,
        guarded by the head and the position counter; again from what won when another
        commit came first. With ``expect_head``, HeadMoved unless the head is there."""
        head_key = keys.key(keys.HEAD, stream, writer)
        entry_prefix = keys.key(keys.ENTRY, stream, writer)
        stream_prefix = keys.key(keys.STREAM, stream)
        member_of = keys.pack_member

        def append(raw: bytes | None, counter: int) -> tuple[Writes, list[Entry]]:
            seq, prev = keys.unpack_head(raw)
            if seq < 0:
                raise ChainBroken(stream, writer, 1, "the log's recorded head is malformed")
            if expect_head is not None and seq != expect_head:
                raise HeadMoved(stream, writer, expect_head, seq)
            out: list[Entry] = []
            writes: dict[bytes, bytes | None] = {}
            position = counter
            for payload in payloads:
                seq += 1
                position += 1
                digest = chain_hash(prev, payload)
                at = keys.position_bytes(position)
                writes[entry_prefix + keys.seq_bytes(seq)] = keys.pack_entry(
                    prev, digest, payload, position
                )
                writes[keys.FEED + at] = keys.pack_event(stream, writer, seq, digest)
                writes[stream_prefix + at] = member_of(writer, seq)
                out.append(Entry(stream, writer, seq, payload, prev, digest, position))
                prev = digest
            writes[head_key] = keys.pack_head(seq, digest)
            writes[keys.POSITION] = keys.pack_int(position)
            return writes, out

        log = (stream, writer)
        # A conditional append reads the head: a stale cached one would refuse wrongly.
        cached = None if expect_head is not None else self._heads.get(log)
        entries = self._update(head_key, cached, append)
        self._remember(log, keys.pack_head(entries[-1].seq, entries[-1].content_hash))
        return entries

    def _update(
        self,
        head_key: bytes,
        cached: bytes | None,
        compute: Callable[[bytes | None, int], tuple[Writes, list[Entry]]],
    ) -> list[Entry]:
        """As :meth:`Lifetime.update`, guarded by the log's head and the position counter."""
        kv = self._kv
        raw = cached if cached is not None else kv.get(head_key)
        counter = kv.get(keys.POSITION)
        refused = 0
        while True:
            writes, result = compute(raw, keys.unpack_int(counter))
            if kv.commit({head_key: raw, keys.POSITION: counter}, writes):
                return result
            again, now = kv.get(head_key), kv.get(keys.POSITION)
            refused = refused + 1 if (again, now) == (raw, counter) else 0
            if refused >= MAX_REFUSALS:
                raise StoreError(
                    f"{kv.location}: the driver's commit was refused {refused} times in a "
                    "row while the values it was guarded by held: it is not keeping the "
                    "KeyValue contract"
                )
            raw, counter = again, now

    def _remember(self, log: tuple[str, str], head: bytes) -> None:
        if len(self._heads) >= self.MAX_CACHED_HEADS:
            self._heads.clear()
        self._heads[log] = head

    # -- erasure ---------------------------------------------------------------------------

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        k = keys.key(keys.ENTRY, stream, writer) + keys.seq_bytes(seq)

        def erase(raw: bytes | None) -> tuple[Writes | None, Entry]:
            if raw is None:
                raise NotFound(f"log ({stream!r}, {writer!r}) has no entry at seq {seq}")
            entry = keys.unpack_entry(stream, writer, seq, raw)
            if entry is None:
                raise ChainBroken(stream, writer, seq, "a stored entry is malformed")
            if entry.redacted:
                return None, entry
            erased = entry._replace(payload=b"", redacted=True)
            value = keys.pack_entry(entry.prev_hash, entry.content_hash, b"", entry.position, True)
            return {k: value}, erased

        return self._kv.update(k, erase)

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
            yield e.seq, None if e.redacted else e.payload, e.prev_hash, e.content_hash

    def _verify(self, stream: str, writer: str) -> int:
        return verify_to_head(stream, writer, self._chain_rows(stream, writer), self._read_head)

    def _position(self) -> int:
        return keys.unpack_int(self._kv.get(keys.POSITION))

    def _positioned(self, prefix: bytes, after: int) -> Iterator[tuple[int, bytes]]:
        """``(position, value)`` of the keys ``prefix + position`` with ``position >
        after``, in order, a page at a time; each page stops at the counter read before
        it, below which every position has committed (so none can appear later)."""
        kv, size = self._kv, PAGE_SIZE
        while True:
            last = self._position()
            if last <= after:
                return
            pairs = kv.scan(
                prefix + keys.position_bytes(after + 1),
                prefix + keys.position_bytes(last + 1),
                size,
            )
            for k, raw in pairs:
                position = int.from_bytes(k[len(prefix) :], "big")
                yield position, raw
                after = position
            if len(pairs) < size:
                return

    def _feed(self, after: int, limit: int | None) -> Iterator[CommitEvent]:
        left = limit
        for position, raw in self._positioned(keys.FEED, after):
            if left is not None:
                if left <= 0:
                    return
                left -= 1
            event = keys.unpack_event(position, raw)
            if event is None:
                raise StoreError(f"{self._kv.location}: feed position {position} is malformed")
            yield event

    def _stream_entries(self, stream: str, after: int) -> Iterator[Entry]:
        for position, raw in self._positioned(keys.key(keys.STREAM, stream), after):
            member = keys.unpack_member(raw)
            if member is None:
                raise StoreError(
                    f"{self._kv.location}: stream {stream!r} index at position {position} "
                    "is malformed"
                )
            writer, seq = member
            found = keys.key(keys.ENTRY, stream, writer) + keys.seq_bytes(seq)
            value = self._kv.get(found)
            entry = None if value is None else keys.unpack_entry(stream, writer, seq, value)
            if entry is None:
                raise ChainBroken(stream, writer, seq, "the entry the stream index names is gone")
            yield entry

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
            packed = keys.pack_entry(
                entry.prev_hash, entry.content_hash, entry.payload, entry.position, entry.redacted
            )
            self._kv.put(k, packed)
        self._heads.pop((stream, writer), None)


__all__ = ["KvGenerationStore", "KvLogStore"]
