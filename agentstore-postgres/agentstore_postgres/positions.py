"""Commit positions on PostgreSQL, and the statements that read the store in their order.

A log row carries ``tx xid8 DEFAULT pg_current_xact_id()``, the id of the transaction that
wrote it, and ``idx``, its ordinal among that transaction's rows (1, 2, ... in write
order: each insert takes one more than the largest ``idx`` its transaction has written,
found by a probe of the unique index on ``(tx, idx)``). The public position is
``tx * 2**32 + idx``, computed here in Python: unique in the schema, sparse, and
increasing in the order transactions first wrote (their transaction ids), which for the
driver's own appends (one transaction each) is the order their inserts ran. There is no
counter row and no lock: writers to different logs never wait for each other. Positions
grow past 2**63 once the cluster has assigned 2**31 transaction ids; they are Python
ints (store them as ``numeric`` or text elsewhere).

Why the feed has no late gaps. The feed, :meth:`position` and a stream's entries read
only rows with ``tx < pg_snapshot_xmin(pg_current_snapshot())``, in the same statement,
so the bound and the rows come from one snapshot (under READ COMMITTED, the statement's).

1. Every transaction id below a snapshot's xmin belongs to a transaction that has ended
   (committed or rolled back): that is what xmin means, and PostgreSQL's own visibility
   rules depend on it (an id is published in the proc array before the next id can be
   assigned, so no snapshot misses a running writer). So each row with ``tx < xmin``
   that will ever be visible is visible to this statement, and rows of that transaction
   can no longer appear.
2. A transaction that had no id when the snapshot was taken gets one later, at least
   the snapshot's xmax, which is at least its xmin. An append's id is assigned inside its
   INSERT (by ``pg_current_xact_id()`` in the column default or the ``idx`` probe) or
   before, never after, so its rows carry that id. The reader's own open transaction, if
   it has written, has an id of at least xmin too (PostgreSQL counts it in xmin).
3. So any row committed after a read has ``tx >= xmin`` of that read, and every row the
   read returned has ``tx < xmin``: the later row's position is greater. Pages continue
   after the last ``(tx, idx)`` returned, and rows are never deleted, and a redaction
   keeps ``tx`` and ``idx``: a reader that received position p never later receives one
   at or below p.

Reading your own writes. An append that has returned may still be held back, behind a
transaction older than it that is in progress. So a read that reaches the end of what it
may deliver (a short page of the feed or of a stream, or ``position()``) first looks for a
committed row held back (one index probe); if there is one it waits, polling, until
every transaction older than that row has ended (at most :data:`SETTLE_SECONDS`), and
reads again. An entry whose append returned before the read began is then delivered,
unless a transaction older than it stays open longer than that wait. (Inside an
application's transaction on its own connection the read does not wait: the snapshot
may not move.)

The cost is latency, not blocking: a transaction anywhere in the cluster (any database)
that holds a transaction id (it has written) and stays open holds xmin back, and with it
the feed, until it ends; a prepared transaction counts until committed or rolled back.
Writers never wait for readers or for each other. Read-only transactions without an id
do not hold xmin back.

Within one log, seq order is position order for every append the driver makes in its
own transactions (an append builds on a row it saw committed, whose transaction got its
id earlier). An application transaction that wrote before appending (``open_on_connection``)
holds an older id: if it then appends after an entry committed by a younger transaction,
its entry's position is below that entry's, and the feed delivers the two out of seq
order (never with a gap). Rows stored before schema version 4 have ``tx = 0``.

Scale-out (Citus, YugabyteDB, sharded by stream): transaction ids are per node there, so
positions would be per shard, as Kafka's offsets are per partition: the same ``(tx, idx)``
columns and xmin bound evaluated on the shard that holds the stream, and a consumer of
the whole store keeping one position per shard. Every statement here except the feed and
``position()`` is scoped to one stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from agentstore.types import CommitEvent, Entry

SHIFT: Final = 32
IDX_MASK: Final = (1 << SHIFT) - 1

_BELOW_XMIN: Final = "l.tx < pg_snapshot_xmin(pg_current_snapshot())"

_ENTRY: Final = "l.seq, l.payload, l.prev_hash, l.content_hash, l.tx::text, l.idx, l.redacted"
"""An entry's columns after stream and writer, as :func:`entry` reads them."""

# A transaction's next idx: one past the largest it has written (an index probe).
NEXT_IDX: Final = (
    "(SELECT coalesce(max(i.idx), 0) + 1 FROM agentstore_log AS i "
    "WHERE i.tx = pg_current_xact_id())"
)
# Before a COPY: the transaction's id (assigned now, if not yet) and the idx it is at.
TX_BASE: Final = (
    "SELECT pg_current_xact_id()::text, coalesce(max(idx), 0) FROM agentstore_log "
    "WHERE tx = pg_current_xact_id()"
)

FEED: Final = (
    "SELECT l.tx::text, l.idx, l.stream, l.writer, l.seq, l.content_hash "
    f"FROM agentstore_log AS l WHERE (l.tx, l.idx) > (%s::xid8, %s) AND {_BELOW_XMIN} "
    "ORDER BY l.tx, l.idx LIMIT %s"
)
FEED_PREFIXED: Final = (
    "SELECT l.tx::text, l.idx, l.stream, l.writer, l.seq, l.content_hash "
    f"FROM agentstore_log AS l WHERE (l.tx, l.idx) > (%s::xid8, %s) "
    f"AND l.stream >= %s AND l.stream < %s AND {_BELOW_XMIN} "
    "ORDER BY l.tx, l.idx LIMIT %s"
)
"""As :data:`FEED`, the streams in a range only (a tenant's)."""
POSITION: Final = (
    f"SELECT l.tx::text, l.idx FROM agentstore_log AS l WHERE {_BELOW_XMIN} "
    "ORDER BY l.tx DESC, l.idx DESC LIMIT 1"
)
# The newest committed row the feed holds back (at or above xmin), the reader's own
# transaction's rows aside: what a read at the end of the feed waits to deliver.
HELD_BACK: Final = (
    "SELECT l.tx::text FROM agentstore_log AS l "
    "WHERE l.tx >= pg_snapshot_xmin(pg_current_snapshot()) "
    "AND l.tx IS DISTINCT FROM pg_current_xact_id_if_assigned() ORDER BY l.tx DESC LIMIT 1"
)
# Whether every transaction up to the one given has ended.
PASSED: Final = "SELECT pg_snapshot_xmin(pg_current_snapshot()) > %s::xid8"
SETTLE_SECONDS: Final = 5.0
"""How long a read that reached the end of the feed waits for older transactions still
in progress to end, when an entry committed after them is held back."""

STREAM_PAGE: Final = (
    f"SELECT l.writer, {_ENTRY} FROM agentstore_log AS l WHERE l.stream = %s "
    f"AND (l.tx, l.idx) > (%s::xid8, %s) AND {_BELOW_XMIN} ORDER BY l.tx, l.idx LIMIT %s"
)
# One log's entries (every committed row: a log's own reads wait for no one).
LAST: Final = (
    f"SELECT {_ENTRY} FROM agentstore_log AS l WHERE l.stream = %s AND l.writer = %s "
    "ORDER BY l.seq DESC LIMIT 1"
)
PAGE: Final = (
    f"SELECT {_ENTRY} FROM agentstore_log AS l WHERE l.stream = %s AND l.writer = %s "
    "AND l.seq > %s ORDER BY l.seq LIMIT %s"
)
FIRST_PAGE: Final = (
    f"SELECT {_ENTRY} FROM agentstore_log AS l WHERE l.stream = %s AND l.writer = %s "
    "ORDER BY l.seq LIMIT %s"
)
# Redaction: empty the payload and mark the row, once; an already redacted row is
# returned as it is (the second SELECT sees the statement's snapshot, before the UPDATE).
# The first column says whether this statement redacted it.
REDACT: Final = (
    "WITH upd AS (UPDATE agentstore_log AS l SET payload = '\\x', redacted = true "
    "WHERE l.stream = %s AND l.writer = %s AND l.seq = %s AND NOT l.redacted "
    f"RETURNING {_ENTRY}) SELECT true, * FROM upd UNION ALL SELECT false, {_ENTRY} "
    "FROM agentstore_log AS l WHERE l.stream = %s AND l.writer = %s AND l.seq = %s "
    "AND l.redacted"
)
VACUUM: Final = "VACUUM agentstore_log"
"""Run after a redaction: removes the old row version's bytes from the table's pages."""


def position_of(tx: str | int, idx: int) -> int:
    """The public position of the row written ``idx``-th by transaction ``tx``."""
    return (int(tx) << SHIFT) + int(idx)


def split(position: int) -> tuple[str, int]:
    """``(tx, idx)`` bounds for ``(tx, idx) > bound``: every row after ``position``."""
    return str(position >> SHIFT), position & IDX_MASK


def entry(stream: str, writer: str, row: Sequence[Any]) -> Entry:
    """An :class:`Entry` from a row of ``seq, payload, prev_hash, content_hash, tx, idx,
    redacted`` (a redacted one has payload ``b""``)."""
    seq, payload, prev, digest, tx, idx, redacted = row
    return Entry(
        stream,
        writer,
        seq,
        b"" if redacted else bytes(payload),
        None if prev is None else bytes(prev),
        bytes(digest),
        position_of(tx, idx),
        bool(redacted),
    )


def event(row: Sequence[Any]) -> CommitEvent:
    """A :class:`CommitEvent` from a row of :data:`FEED`."""
    tx, idx, stream, writer, seq, digest = row
    return CommitEvent(stream, writer, seq, bytes(digest), position_of(tx, idx))


__all__ = [
    "FEED",
    "FEED_PREFIXED",
    "FIRST_PAGE",
    "HELD_BACK",
    "LAST",
    "NEXT_IDX",
    "PAGE",
    "PASSED",
    "POSITION",
    "REDACT",
    "SETTLE_SECONDS",
    "STREAM_PAGE",
    "TX_BASE",
    "VACUUM",
    "entry",
    "event",
    "position_of",
    "split",
]
