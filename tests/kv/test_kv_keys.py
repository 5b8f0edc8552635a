"""Key encoding: hostile names never collide, and keys sort as the names do."""

from __future__ import annotations

import itertools

import agentstore
from agentstore import Registry, StorePolicy
from agentstore.kv import keys

HOSTILE = [
    "a",
    "ab",
    "a\x00",
    "a\x00b",
    "a\x00\xff",
    "\x00",
    "a/b",
    "a:b",
    "a|b",
    "a\\b",
    "a\x01",
    "\x7f",
    "\xff",
    "é",
    "e\u0301",
    "𝄞",
    "\ufffd",
    "z" * 255,
]


def test_tuples_of_hostile_names_never_share_a_key() -> None:
    tuples = list(itertools.product(HOSTILE, repeat=2))
    encoded = {keys.key(keys.HEAD, *t): t for t in tuples}
    assert len(encoded) == len(tuples)
    for raw, names in encoded.items():
        assert tuple(keys.split(raw[1:], 2) or ()) == names


def test_keys_sort_as_the_tuples_of_names_do() -> None:
    tuples = list(itertools.product(HOSTILE, repeat=2))
    by_key = sorted(tuples, key=lambda t: keys.key(keys.HEAD, *t))
    assert by_key == sorted(tuples)


def test_split_refuses_what_is_not_exactly_the_components() -> None:
    assert keys.split(keys.text("a"), 2) is None
    assert keys.split(keys.text("a") + keys.text("b") + b"x", 2) is None
    assert keys.split(b"\xc3\x00", 1) is None  # not UTF-8


def test_seqs_sort_in_numeric_order_below_the_end_marker() -> None:
    seqs = [1, 2, 255, 256, 65_536, 2**32, 2**63 - 1]
    encoded = [keys.seq_bytes(s) for s in seqs]
    assert encoded == sorted(encoded)
    assert all(e < keys.SEQ_END for e in encoded)


def test_prefix_end_bounds_every_key_with_the_prefix() -> None:
    for prefix in (b"h", b"a\x00", b"a\xff", b"a\xff\xff"):
        end = keys.prefix_end(prefix)
        assert prefix < end
        assert prefix + b"\xff" * 8 < end
        assert not end.startswith(prefix)


def test_hostile_names_keep_their_own_logs_generations_and_secrets(
    kv_policy: StorePolicy, kv_registry: Registry
) -> None:
    names = [n for n in HOSTILE if "\x00" not in n]  # the API refuses NUL in names
    pairs = [(s, w) for s in names[:8] for w in names]
    with agentstore.open(kv_policy, registry=kv_registry) as store:
        for i, (stream, writer) in enumerate(pairs):
            store.log(stream, writer=writer).append_many([f"{i}".encode()] * (1 + i % 3))
        for i, name in enumerate(names):
            store.generation(name).advance_to(i + 1)
            store.credentials.put_secret(name, f"secret {i}".encode())
        assert store.logs() == sorted(pairs)
        for i, (stream, writer) in enumerate(pairs):
            log = store.log(stream, writer=writer)
            assert [e.payload for e in log.entries()] == [f"{i}".encode()] * (1 + i % 3)
            assert log.verify() == 1 + i % 3
        for i, name in enumerate(names):
            assert store.generation(name).current() == i + 1
            assert store.credentials.get_secret(name) == f"secret {i}".encode()
