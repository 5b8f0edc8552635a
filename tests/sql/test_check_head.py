"""check_head: a verified chain against the log's recorded head, as read back from a
database, which an edit can make anything."""

from __future__ import annotations

import pytest
from agentstore import ChainBroken
from agentstore.chain import chain_hash
from agentstore.sql.stores import Head, check_head

H1 = chain_hash(None, b"a")
H2 = chain_hash(H1, b"b")


def _check(first: Head, *, count: int = 2, last: bytes = H2, now: Head | None = None) -> None:
    check_head(
        "s",
        "w",
        count,
        last,
        first=first,
        at_first=[H2] if first[0] == 2 else [],
        read_head=None if now is None else (lambda stream, writer: now),
    )


def test_a_head_that_matches_the_chain_passes() -> None:
    _check((2, H2))
    _check((1, H1), now=(2, H2))  # an entry appended while the chain was read


@pytest.mark.parametrize(
    "head",
    [
        (2.0, H2),
        ("2", H2),
        (b"\x02", H2),
        (True, H2),
        (2, "x" * 32),
        (2, None),
        (2, memoryview(H2)),
        (0, H2),
        (0.0, None),
        (-1, H2),
    ],
    ids=[
        "real seq",
        "text seq",
        "blob seq",
        "bool seq",
        "text hash",
        "no hash",
        "memoryview hash",
        "seq 0",
        "real seq 0",
        "seq -1",
    ],
)
def test_a_malformed_head_is_a_broken_chain(head: Head) -> None:
    with pytest.raises(ChainBroken, match="recorded head is malformed") as info:
        _check(head)
    assert info.value.seq == 3
    with pytest.raises(ChainBroken, match="recorded head is malformed") as info:
        _check((1, H1), now=head)  # the head read again after the chain
    assert info.value.seq == 3


def test_no_recorded_head_is_not_malformed() -> None:
    _check((0, None), count=0, last=None)  # type: ignore[arg-type]  # an empty log
    with pytest.raises(ChainBroken, match="lie past the log's recorded head"):
        _check((0, None))
