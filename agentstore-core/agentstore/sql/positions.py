"""Reading a SQL store in position order: the commit feed's pages, and one stream's
entries merged across its writers.

Both are written over small callables that run one query each, so a driver with other
statements (or placeholders) reuses the algorithm. Neither holds a database resource
between the pages it yields.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import cast

from agentstore.sql.backend import Row
from agentstore.types import Entry

MIN_WRITER_PAGE = 16
"""The fewest rows a stream read fetches per query from one writer's log."""


def prefix_range(prefix: str) -> tuple[str, str]:
    """``(low, high)``: a text column holds a value starting with ``prefix`` (non-empty)
    exactly when ``low <= value < high``, in code-point (binary) order."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def feed_pages(
    fetch: Callable[[int, int], list[Row]], after: int, limit: int | None, page_size: int
) -> Iterator[list[Row]]:
    """Pages of rows with ``position > after`` in position order, at most ``limit`` rows in
    all (None: no limit). ``fetch(after, n)`` returns at most ``n`` rows in position order,
    each with its position in the last column."""
    left = limit
    while left is None or left > 0:
        want = page_size if left is None else min(page_size, left)
        rows = fetch(after, want)
        if rows:
            yield rows
        if len(rows) < want:
            return
        after = cast(int, rows[-1][-1])
        if left is not None:
            left -= len(rows)


def stream_entries(
    stream: str,
    after: int,
    *,
    bound: int,
    writers: Callable[[str], list[Row]],
    position_at: Callable[[str, int], list[Row]],
    head: Callable[[str], int],
    page: Callable[[str, int, int], Sequence[Entry]],
    page_size: int,
) -> Iterator[Entry]:
    """The entries of ``stream`` with ``after < position <= bound``, in position order.

    Each writer's log is read in seq order, which is its position order (a log's entries
    commit one after another), and the logs are merged by position. Every entry up to
    ``bound`` (a position read before the writers are listed) has committed, so the read
    misses none of them, and a later read from the last position delivered misses none of
    the rest: entries committed after ``bound`` have greater positions.

    Args:
        writers: ``writers(w)``, a one-row list naming the stream's first writer after
            ``w`` (``""`` gives the first), or an empty list.
        position_at: ``position_at(w, seq)``, a one-row list holding the position of entry
            ``seq`` of writer ``w``, or an empty list.
        head: the seq of writer ``w``'s last entry.
        page: ``page(w, seq, n)``, up to ``n`` entries of writer ``w`` after ``seq``, in
            seq order.
    """
    if bound <= after:
        return
    names: list[str] = []
    found = writers("")
    while found:
        names.append(cast(str, found[0][0]))
        found = writers(names[-1])
    size = max(MIN_WRITER_PAGE, page_size // max(1, len(names)))
    logs = []
    for name in names:
        start = _last_seq_at_most(name, after, position_at, head(name))
        if start is not None:
            logs.append(_writer_entries(name, start, bound, page, size))
    yield from heapq.merge(*logs, key=attrgetter("position"))


def _last_seq_at_most(
    writer: str, after: int, position_at: Callable[[str, int], list[Row]], head: int
) -> int | None:
    """The seq after which ``writer``'s entries have ``position > after`` (0: all of them),
    found by bisecting seqs ``1..head``; None when none has."""
    if after <= 0:
        return 0

    def position(seq: int) -> int:
        row = position_at(writer, seq)
        # A missing entry (a log edited behind the store's back) counts as read already.
        return cast(int, row[0][0]) if row and row[0][0] is not None else 0

    if head < 1 or position(head) <= after:
        return None
    low, high = 0, head  # position(low) <= after < position(high), low == 0 meaning none
    while high - low > 1:
        middle = (low + high) // 2
        if position(middle) <= after:
            low = middle
        else:
            high = middle
    return low


def _writer_entries(
    writer: str,
    seq: int,
    bound: int,
    page: Callable[[str, int, int], Sequence[Entry]],
    size: int,
) -> Iterator[Entry]:
    while True:
        entries = page(writer, seq, size)
        for entry in entries:
            if entry.position > bound:
                return
            yield entry
        if len(entries) < size:
            return
        seq = entries[-1].seq


__all__ = [
    "MIN_WRITER_PAGE",
    "feed_pages",
    "prefix_range",
    "stream_entries",
]
