"""Checks chunks of one chain; run as a script by :mod:`agentstore_sqlite.logs`.

Usage: ``python -S _verify_worker.py PATH STREAM WRITER LAST BUSY_TIMEOUT CHUNK CLAIMS
[immutable]``, with STREAM and WRITER as the hex of their UTF-8 (any name passes through
argv that way), CLAIMS a folder shared with the other checkers, and ``immutable`` when the
file is to be read as SQLite's immutable (see ``agentstore_sqlite.backend.open_file``).
The seqs ``1..LAST`` are cut into chunks of CHUNK; the worker checks, in ascending order,
each chunk it is first to claim (by creating a file named after it in CLAIMS), so a checker
that started late or runs on a busier CPU simply checks fewer. Prints ``count N R``, the
rows it checked and how many of them are redacted, when each chunk it checked holds
exactly its seqs, every row continuing the chain; else ``broken``, and checks no further.
A redacted row (its payload erased, ``redacted`` 1) cannot have its hash recomputed: its
links are checked (its ``prev_hash`` is the previous row's hash, and the next row's
``prev_hash`` is its hash), and its payload must be empty.

Each row is checked against the stored row before it only, so chunks can be checked in any
order. A check here only proves a chain whole or finds that it is not: where it is not, the
caller's single pass names the first broken seq. It imports nothing but sqlite3 and blake3
besides what every interpreter has loaded, to start quickly.
"""

from __future__ import annotations

# The signal module's C half, loaded at every start-up: signal itself imports enum, which
# would cost each worker's start a fifth.
import _signal  # type: ignore[import-not-found]
import os
import sqlite3
import sys

from blake3 import blake3

TYPE_CHECKING = False  # not typing's: importing typing slows every worker's start
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# The table, not the agentstore_log view: numeric bounds already leave out the head row
# (seq 'head', text), so the view's filter is work for nothing. Half-open, so that any
# numeric seq, 4.5 say, falls in exactly one chunk.
_ROWS = (
    "SELECT seq, payload, prev_hash, content_hash, redacted FROM agentstore_log_rows "
    "WHERE stream = ? AND writer = ? AND seq >= ? AND seq < ? ORDER BY seq"
)
# Rows fetched at a time: looping over a list is cheaper than stepping the cursor.
_BATCH = 256
HASH_AT = "SELECT content_hash FROM agentstore_log WHERE stream = ? AND writer = ? AND seq = ?"


def check_range(  # noqa: PLR0917 (the callers pass the tally by position)
    conn: sqlite3.Connection,
    stream: str,
    writer: str,
    first: int,
    last: int,
    tally: list[int] | None = None,
) -> int | None:
    """The number of rows, ``last - first + 1``, when the rows stored at seqs from ``first``
    up to ``last + 1`` (excluded) are exactly ``first..last``, each of the right types and
    continuing the chain from the stored row ``first - 1``; else None. The redacted rows
    among them are added to ``tally[0]``."""
    # The entry before the range: its hash is what the first row must name as prev_hash
    # and what its hash covers. The genesis entry names none and hashes its payload alone.
    link: bytes | None = None
    prefix = b""
    if first > 1:
        row = conn.execute(HASH_AT, (stream, writer, first - 1)).fetchone()
        if row is None or type(row[0]) is not bytes:
            return None
        link = prefix = row[0]
    expected = first
    # One hasher, reset after each row: a fresh blake3() per row costs a third more.
    hasher = blake3()
    update, digest, reset = hasher.update, hasher.digest, hasher.reset
    redacted = 0
    cur = conn.execute(_ROWS, (stream, writer, first, last + 1))
    while rows := cur.fetchmany(_BATCH):
        for seq, payload, prev_hash, content_hash, erased in rows:
            # Every column's type is checked on the way: a REAL 7.0 equals 7 (a file edited
            # past the column's INTEGER affinity holds one), a text hash never equals
            # bytes, and a text or NULL payload never adds to them.
            if seq != expected or type(seq) is not int or prev_hash != link:
                return None
            if erased:  # redacted: the link is checked, the hash cannot be
                if payload != b"" or type(content_hash) is not bytes:
                    return None
                redacted += 1
                link = prefix = content_hash
                expected += 1
                continue
            try:
                update(prefix + payload)
            except TypeError:
                return None
            if digest() != content_hash:
                return None
            reset()
            link = prefix = content_hash
            expected += 1
    if expected != last + 1:
        return None
    if tally is not None:
        tally[0] += redacted
    return expected - first


def check_chunks(
    conn: sqlite3.Connection,
    stream: str,
    writer: str,
    last: int,
    *,
    chunk: int,
    claim: Callable[[int], bool],
    give_up: Callable[[], None] | None = None,
    tally: list[int] | None = None,
) -> int | None:
    """Check, in ascending order, each chunk of ``chunk`` seqs of ``1..last`` (chunk ``i``
    starting at seq ``1 + i * chunk``) that ``claim(i)`` grants, as :func:`check_range`
    does (adding redacted rows to ``tally[0]``); the rows checked, or None at the first
    chunk that fails (after calling ``give_up``, so that the other checkers stop too)."""
    count = 0
    for i, first in enumerate(range(1, last + 1, chunk)):
        if claim(i):
            end = min(last, first + chunk - 1)
            checked = check_range(conn, stream, writer, first, end, tally)
            if checked is None:
                if give_up is not None:
                    give_up()
                return None
            count += checked
    return count


_GAVE_UP = "gave-up"  # in a claims folder: a checker found the chain not whole


def claim_in(folder: str) -> Callable[[int], bool]:
    """Claims of chunks shared through ``folder``: each is granted to one caller only, and
    none once a checker gave up (the chain is known not to be whole)."""
    gave_up = os.path.join(folder, _GAVE_UP)

    def claim(i: int) -> bool:
        if os.path.exists(gave_up):
            return False
        return _create(os.path.join(folder, str(i)))

    return claim


def give_up_in(folder: str) -> Callable[[], None]:
    """What a checker calls on finding the chain not whole: no chunk is granted after."""
    path = os.path.join(folder, _GAVE_UP)

    def give_up() -> None:
        _create(path)  # the first to give up creates it; the others find it there

    return give_up


def _create(path: str) -> bool:
    try:  # O_EXCL: of all who try, exactly one creates the file
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def open_snapshot(
    path: str | Path, busy_timeout: float, *, immutable: bool = False
) -> sqlite3.Connection:
    """A read-only connection to the file at ``path`` (the very file: no ``..`` is
    resolved by text) holding one read snapshot until closed."""
    uri = _read_only_uri(os.fspath(path)) + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout)
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
    if not os.path.isabs(path):  # joined, never normalised: 'link/..' is not '.'
        path = os.path.join(os.getcwd(), path)
    # SQLite ends a URI's path at '?' or '#' and decodes '%HH'; nothing else is special.
    quoted = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file://{quoted}?mode=ro"


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent alone decides, and kills us. It
    # started us with SIGINT and SIGTERM blocked (see logs.py); let them in now.
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    if hasattr(_signal, "pthread_sigmask"):
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGINT, _signal.SIGTERM})
    path, stream, writer, last, busy_timeout, chunk, claims, *flags = argv[1:]
    conn = open_snapshot(path, float(busy_timeout), immutable="immutable" in flags)
    tally = [0]
    try:
        count = check_chunks(
            conn,
            _unhex(stream),
            _unhex(writer),
            int(last),
            chunk=int(chunk),
            claim=claim_in(claims),
            give_up=give_up_in(claims),
            tally=tally,
        )
    finally:
        conn.close()
    sys.stdout.write("broken\n" if count is None else f"count {count} {tally[0]}\n")
    return 0


def _unhex(text: str) -> str:
    return bytes.fromhex(text).decode("utf-8", "surrogatepass")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
