"""The chain function and the streaming verifier, on their own."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
from agentstore import ChainBroken, chain_hash
from agentstore.chain import ChainRow
from agentstore.conformance import HELLO_WORLD_HASH, SECOND_HASH
from agentstore.driver import verify_rows
from blake3 import blake3


def rows(payloads: list[bytes]) -> list[ChainRow]:
    out: list[ChainRow] = []
    prev: bytes | None = None
    for seq, payload in enumerate(payloads, start=1):
        h = chain_hash(prev, payload)
        out.append((seq, payload, prev, h))
        prev = h
    return out


def test_chain_hash_known_vectors() -> None:
    first = chain_hash(None, b"hello world")
    assert first.hex() == HELLO_WORLD_HASH
    assert chain_hash(first, b"second").hex() == SECOND_HASH
    assert chain_hash(None, b"") == blake3(b"").digest()
    assert chain_hash(first, b"x") == blake3(first + b"x").digest()


def test_verify_rows_counts_and_returns_the_head() -> None:
    good = rows([b"a", b"b", b"c"])
    assert verify_rows("s", "w", good) == (3, good[-1][3])
    assert verify_rows("s", "w", []) == (0, None)


def test_verify_rows_takes_buffers_that_do_not_concatenate() -> None:
    # A driver whose client returns memoryview for binary columns (psycopg2 does).
    good = rows([b"a", b"b", b"c"])
    views = [
        (seq, memoryview(p), None if prev is None else memoryview(prev), memoryview(h))
        for seq, p, prev, h in good
    ]
    count, last = verify_rows("s", "w", views)  # type: ignore[arg-type]
    assert count == 3
    assert bytes(last) == good[-1][3]  # type: ignore[arg-type]
    edited = [*views[:2], (3, memoryview(b"C"), views[2][2], views[2][3])]
    with pytest.raises(ChainBroken) as info:
        verify_rows("s", "w", edited)  # type: ignore[arg-type]
    assert info.value.seq == 3


def test_verify_rows_checks_a_slice() -> None:
    good = rows([b"a", b"b", b"c", b"d"])
    assert verify_rows("s", "w", good[2:], start_seq=3, start_prev=good[1][3]) == (2, good[3][3])
    with pytest.raises(ChainBroken) as info:
        verify_rows("s", "w", good[2:], start_seq=3, start_prev=None)
    assert info.value.seq == 3


def _broken_at(bad: list[ChainRow]) -> ChainBroken:
    with pytest.raises(ChainBroken) as info:
        verify_rows("s", "w", bad)
    assert (info.value.stream, info.value.writer) == ("s", "w")
    return info.value


def test_gap() -> None:
    good = rows([b"a", b"b", b"c", b"d"])
    err = _broken_at([good[0], good[1], good[3]])
    assert err.seq == 3
    assert "missing" in err.detail


def test_repeat_and_reorder() -> None:
    good = rows([b"a", b"b", b"c"])
    assert _broken_at([good[0], good[0], good[1]]).seq == 2
    err = _broken_at([good[0], good[2], good[1]])
    assert err.seq == 2
    assert _broken_at([good[1], good[0]]).seq == 1


def test_edited_payload_prev_and_hash() -> None:
    good = rows([b"a", b"b", b"c"])
    s, _, p, h = good[1]
    assert _broken_at([good[0], (s, b"B", p, h), good[2]]).seq == 2
    assert _broken_at([good[0], (s, b"b", bytes(32), h), good[2]]).seq == 2
    assert _broken_at([good[0], (s, b"b", p, bytes(32)), good[2]]).seq == 2
    assert _broken_at([(1, b"a", bytes(32), good[0][3])]).seq == 1


def test_message_names_stream_writer_and_seq() -> None:
    good = rows([b"a", b"b"])
    err = _broken_at([good[0], (2, b"x", good[1][2], good[1][3])])
    assert str(err).startswith("chain broken in stream 's', writer 'w' at seq 2:")


def test_verify_streams_in_constant_memory() -> None:
    # A lazily generated chain of 20 000 rows: verification must not hold them.
    def generate(n: int) -> Iterator[ChainRow]:
        prev: bytes | None = None
        for seq in range(1, n + 1):
            payload = seq.to_bytes(4, "big") * 64
            h = chain_hash(prev, payload)
            yield seq, payload, prev, h
            prev = h

    tracemalloc.start()
    try:
        count, _ = verify_rows("s", "w", generate(20_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < 64 * 1024  # the rows alone would take several megabytes
