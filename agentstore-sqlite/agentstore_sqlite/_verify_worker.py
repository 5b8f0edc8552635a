"""Checks chunks of one chain; run as a script by :mod:`agentstore_sqlite.logs`.

Usage: ``python -S _verify_worker.py PATH STREAM WRITER LAST BUSY_TIMEOUT CHUNK CLAIMS``,
with STREAM and WRITER as the hex of their UTF-8 (any name passes through argv that way),
LAST the recorded head's seq and CLAIMS a folder shared with the other checkers. The chain
``1..LAST`` is cut into chunks of CHUNK seqs; the worker checks, in ascending order, each
chunk it is first to claim (by creating a file named after it in CLAIMS), so a checker that
started late or runs on a busier CPU simply checks fewer. Prints ``count N``, the rows it
checked, when they all continue the chain, else ``broken K DETAIL`` for the first row ``K``
that breaks it (DETAIL runs to the end of the output) and checks no further.

Each row is checked against the stored row before it only, so chunks can be checked in
any order and the first broken seq of the whole chain is the least one reported: every
chunk below a reported break was claimed, hence checked, before it. It imports nothing but
the standard library's sqlite3 and blake3, to start quickly.
"""

from __future__ import annotations

import os
import sqlite3
import sys

from blake3 import blake3

TYPE_CHECKING = False  # typing itself costs a worker's start-up a tenth
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

# The table, not the agentstore_log view: integer bounds already leave out the head row
# (seq 'head', text), and reading past the view's filter is a twentieth faster.
_ROWS = (
    "SELECT seq, payload, prev_hash, content_hash FROM agentstore_log_rows "
    "WHERE stream = ? AND writer = ? AND seq BETWEEN ? AND ? ORDER BY seq"
)
# Rows fetched at a time: the loop then runs over a list, a sixth faster than the cursor.
_BATCH = 256
_HASH_AT = "SELECT content_hash FROM agentstore_log WHERE stream = ? AND writer = ? AND seq = ?"
_NEXT_SEQ = "SELECT MIN(seq) FROM agentstore_log WHERE stream = ? AND writer = ? AND seq > ?"


def check_range(
    conn: sqlite3.Connection, stream: str, writer: str, first: int, last: int, *, head: int
) -> dict[str, Any]:
    """Check rows ``first..last`` of a log whose recorded head is ``head``; the verdict as
    the JSON line describes it."""
    # The entry before the range: its hash is what the first row must name as prev_hash
    # and what its hash covers. The genesis entry names none and hashes its payload alone.
    link: bytes | None = None
    prefix = b""
    if first > 1:
        row = conn.execute(_HASH_AT, (stream, writer, first - 1)).fetchone()
        # A missing predecessor is reported by the range that holds it.
        link = prefix = row[0] if row is not None else b""
    expected = first
    # One hasher, reset after each row: a fresh blake3() per row costs a third more.
    hasher = blake3()
    update, digest, reset = hasher.update, hasher.digest, hasher.reset
    cur = conn.execute(_ROWS, (stream, writer, first, last))
    while rows := cur.fetchmany(_BATCH):
        for seq, payload, prev_hash, content_hash in rows:
            if seq != expected:
                if type(seq) is not int:
                    return _broken(expected, "a stored column has the wrong type")
                if seq > expected:
                    return _broken(
                        expected, f"expected seq {expected}, found {seq} (entry missing)"
                    )
                return _broken(
                    expected, f"expected seq {expected}, found {seq} (out of order or repeated)"
                )
            if prev_hash != link:
                return _broken(seq, "prev_hash does not match the previous entry's hash")
            try:
                update(prefix + payload)
            except TypeError:  # an edit stored text where bytes belong
                return _broken(seq, "a stored column has the wrong type")
            if digest() != content_hash:
                return _broken(seq, "content_hash does not match the payload")
            reset()
            link = prefix = content_hash
            expected += 1
    if expected <= last:
        found = conn.execute(_NEXT_SEQ, (stream, writer, last)).fetchone()[0]
        if found is None:  # nothing stored from here up to the head
            missing = f"entry {head}" if expected == head else f"entries {expected}..{head}"
            return _broken(expected, f"{missing} missing: the log was truncated")
        return _broken(expected, f"expected seq {expected}, found {found} (entry missing)")
    return {"count": expected - first}


def check_chunks(
    conn: sqlite3.Connection,
    stream: str,
    writer: str,
    last: int,
    *,
    chunk: int,
    claim: Callable[[int], bool],
) -> dict[str, Any]:
    """Check, in ascending order, each chunk of ``chunk`` seqs of ``1..last`` (chunk ``i``
    starting at seq ``1 + i * chunk``) that ``claim(i)`` grants; the verdict as the output
    line describes it."""
    count = 0
    for i, first in enumerate(range(1, last + 1, chunk)):
        if claim(i):
            result = check_range(
                conn, stream, writer, first, min(last, first + chunk - 1), head=last
            )
            if "seq" in result:
                return result
            count += result["count"]
    return {"count": count}


def claim_in(folder: str) -> Callable[[int], bool]:
    """Claims of chunks shared through ``folder``: each is granted to one caller only."""

    def claim(i: int) -> bool:
        try:  # O_EXCL: of all who try, exactly one creates the file
            os.close(os.open(os.path.join(folder, str(i)), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    return claim


def _broken(seq: int, detail: str) -> dict[str, Any]:
    return {"seq": seq, "detail": detail}


def open_snapshot(path: str | Path, busy_timeout: float) -> sqlite3.Connection:
    """A read-only connection to ``path`` holding one read snapshot until closed."""
    conn = sqlite3.connect(_read_only_uri(os.fspath(path)), uri=True, timeout=busy_timeout)
    try:
        conn.execute("BEGIN")
    except BaseException:
        conn.close()
        raise
    return conn


def _read_only_uri(path: str) -> str:
    if os.name != "posix":  # drive letters and backslashes: leave them to pathlib
        from pathlib import Path

        return Path(path).absolute().as_uri() + "?mode=ro"
    # SQLite ends a URI's path at '?' or '#' and decodes '%HH'; nothing else is special.
    quoted = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file://{quoted}?mode=ro"


def main(argv: list[str]) -> int:
    path, stream, writer, last, busy_timeout, chunk, claims = argv[1:]
    conn = open_snapshot(path, float(busy_timeout))
    try:
        result = check_chunks(
            conn,
            _unhex(stream),
            _unhex(writer),
            int(last),
            chunk=int(chunk),
            claim=claim_in(claims),
        )
    finally:
        conn.close()
    if "seq" in result:
        sys.stdout.write(f"broken {result['seq']} {result['detail']}")
    else:
        sys.stdout.write(f"count {result['count']}\n")
    return 0


def _unhex(text: str) -> str:
    return bytes.fromhex(text).decode("utf-8", "surrogatepass")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
