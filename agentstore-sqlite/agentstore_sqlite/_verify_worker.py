"""Checks one seq range of one chain; run as a script by :mod:`agentstore_sqlite.logs`.

Usage: ``python -S _verify_worker.py JSON`` where JSON holds ``path``, ``stream``,
``writer``, ``first``, ``last`` and ``head`` (the recorded head's seq). Prints one JSON
line: ``{"count": n}`` when rows ``first..last`` form a valid chain continuing the
stored row ``first - 1``, else ``{"seq": k, "detail": "..."}`` for the first row ``k``
in the range that breaks it.

Each row is checked against the stored row before it only, so ranges can be checked in
any order and the first broken seq of the whole chain is the least one reported. It
imports nothing but the standard library and blake3, to start quickly.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from blake3 import blake3

_ROWS = (
    "SELECT seq, payload, prev_hash, content_hash FROM agentstore_log "
    "WHERE stream = ? AND writer = ? AND seq BETWEEN ? AND ? ORDER BY seq"
)
_HASH_AT = "SELECT content_hash FROM agentstore_log WHERE stream = ? AND writer = ? AND seq = ?"
_NEXT_SEQ = "SELECT MIN(seq) FROM agentstore_log WHERE stream = ? AND writer = ? AND seq > ?"


def check_range(
    conn: sqlite3.Connection, stream: str, writer: str, first: int, last: int, *, head: int
) -> dict[str, Any]:
    """Check rows ``first..last`` of a log whose recorded head is ``head``; the verdict as
    the JSON line describes it."""
    prev: bytes | None = None
    if first > 1:
        row = conn.execute(_HASH_AT, (stream, writer, first - 1)).fetchone()
        # A missing predecessor is reported by the range that holds it.
        prev = row[0] if row is not None else b""
    expected = first
    # One hasher, reset after each row: a fresh blake3() per row costs a third more.
    hasher = blake3()
    update, digest, reset = hasher.update, hasher.digest, hasher.reset
    cur = conn.execute(_ROWS, (stream, writer, first, last))
    for seq, payload, prev_hash, content_hash in cur:
        if seq != expected:
            if type(seq) is not int:
                return _broken(expected, "a stored column has the wrong type")
            if seq > expected:
                return _broken(expected, f"expected seq {expected}, found {seq} (entry missing)")
            return _broken(
                expected, f"expected seq {expected}, found {seq} (out of order or repeated)"
            )
        if prev_hash != prev:
            return _broken(seq, "prev_hash does not match the previous entry's hash")
        try:
            update(payload if prev is None else prev + payload)
        except TypeError:  # an edit stored text where bytes belong
            return _broken(seq, "a stored column has the wrong type")
        if digest() != content_hash:
            return _broken(seq, "content_hash does not match the payload")
        reset()
        prev = content_hash
        expected += 1
    if expected <= last:
        found = conn.execute(_NEXT_SEQ, (stream, writer, last)).fetchone()[0]
        if found is None:  # nothing stored from here up to the head
            missing = f"entry {head}" if expected == head else f"entries {expected}..{head}"
            return _broken(expected, f"{missing} missing: the log was truncated")
        return _broken(expected, f"expected seq {expected}, found {found} (entry missing)")
    return {"count": expected - first}


def _broken(seq: int, detail: str) -> dict[str, Any]:
    return {"seq": seq, "detail": detail}


def open_snapshot(path: str | Path, busy_timeout: float) -> sqlite3.Connection:
    """A read-only connection to ``path`` holding one read snapshot until closed."""
    conn = sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True, timeout=busy_timeout)
    try:
        conn.execute("BEGIN")
    except BaseException:
        conn.close()
        raise
    return conn


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    conn = open_snapshot(job["path"], job.get("busy_timeout", 10.0))
    try:
        result = check_range(
            conn, job["stream"], job["writer"], job["first"], job["last"], head=job["head"]
        )
    finally:
        conn.close()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
