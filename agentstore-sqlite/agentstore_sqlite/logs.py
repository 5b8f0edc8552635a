"""The SQL log store on SQLite: one statement per append (positions included), erasure
that scrubs the file, and a verify that reads a long chain through snapshots, in parallel
worker processes from a length on."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

import blake3
from agentstore.chain import Head, Verified, check_head, verify_rows
from agentstore.errors import ChainBroken, Conflict
from agentstore.sql import SqlLogStore
from agentstore.sql.backend import Row
from agentstore.types import Entry

from agentstore_sqlite._verify_worker import (
    HASH_AT,
    check_chunks,
    check_range,
    claim_in,
    give_up_in,
    open_snapshot,
)
from agentstore_sqlite.backend import SqliteBackend, file_id
from agentstore_sqlite.schema import INSERT_VIA_VIEW, INSERT_VIA_VIEW_RETURNING, NEXT_ROWS_LOG

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

_WORKER: Final = Path(__file__).with_name("_verify_worker.py")
_LOWEST: Final = "SELECT min(seq) FROM agentstore_log WHERE stream = ? AND writer = ?"
_MAX_SEQ: Final = 2**63 - 1  # SQLite's largest integer: seq + 1 must still bind


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class SqliteLogStore(SqlLogStore):
    """:class:`~agentstore.sql.SqlLogStore` on SQLite's layout: one append is one
    statement (see :mod:`agentstore_sqlite.schema`), and ``verify`` reads long chains faster.

    Positions: SQLite runs one write transaction at a time per file, so each entry's
    position, one past the largest stored, is assigned in its write and positions commit
    in order (dense: 1, 2, 3, ...). While this store is the only one appending to the file
    it knows the next position and passes it (nothing to read back); the unique index on
    positions refuses it when another connection took it, and the append then takes the
    transaction path, after which appends leave the position to the statement and read it
    back (:attr:`GUESS_AFTER` appends in a row finding nobody else's entry in between
    return to passing it).

    A chain of at least :attr:`SNAPSHOT_MIN_ENTRIES` entries in a database file is read
    through read-only snapshot connections of its own; from :attr:`PARALLEL_MIN_ENTRIES`
    on, by this process and worker processes at once, each claiming chunks of
    :attr:`CHUNK_ROWS` seqs in turn (each row needs only the stored row before it). That
    read only proves a chain whole: when it finds anything amiss, or any worker fails,
    the single pass of the base class runs and gives its verdict, so the result is always
    the one a single pass gives. Entries appended while a verify runs are not part of it.
    """

    # Below this a worker's start costs more than its share of the chain saves
    # (benchmarks/verify.py measures where).
    PARALLEL_MIN_ENTRIES: Final = 30_000
    MIN_ENTRIES_PER_WORKER: Final = 15_000
    # Seqs per chunk that the processes of a parallel verify claim in turn: small, so all
    # finish close together whatever each started or ran at.
    CHUNK_ROWS: Final = 10_000
    # From here a chain in a file is read through a snapshot connection of its own, whose
    # loop is faster than the shared one's; below, opening that connection costs more.
    SNAPSHOT_MIN_ENTRIES: Final = 10_000
    GUESS_AFTER: Final = 8
    """Appends in a row that found the position one past the last this store knew, before
    it passes the next position instead of reading it back."""

    # The largest position is one seek at the end of the position index (the table, not
    # the view: the view's filter would hide the index from SQLite's min/max shortcut).
    MAX_POSITION = "SELECT max(position) FROM agentstore_log_rows"
    FEED_PAGE = (
        "SELECT stream, writer, seq, content_hash, position FROM agentstore_log_rows "
        "WHERE position > ? ORDER BY position LIMIT ?"
    )
    FEED_PREFIX_PAGE = (
        "SELECT stream, writer, seq, content_hash, position FROM agentstore_log_rows "
        "WHERE position > ? AND stream >= ? AND stream < ? ORDER BY position LIMIT ?"
    )

    _backend: SqliteBackend  # the base keeps it as a Backend; here it is always SQLite

    def __init__(self, backend: SqliteBackend, *, verify_workers: int = 0) -> None:
        super().__init__(backend)
        self._verify_workers = verify_workers
        self._last_position: int | None = None  # the largest this store saw committed
        self._quiet = 0  # appends in a row that found no other connection's in between

    def _insert_one(self, row: tuple[str, str, int, bytes, bytes | None, bytes]) -> int:
        # One statement: the view's trigger writes the entry and moves the head row. No
        # lock is held across the read of the remembered position and the write: a
        # position another thread took meanwhile is refused by the unique index as one
        # another process took is (the append then takes the transaction path).
        if self._quiet >= self.GUESS_AFTER and not self._backend._depth:
            position = cast(int, self._last_position) + 1
            try:
                self._exec(INSERT_VIA_VIEW, (*row, position))
            except Conflict:
                self._quiet = 0  # another connection wrote: read positions back
                raise
            self._last_position = position
            return position
        return self._insert_and_read(row)

    def _insert_and_read(self, row: tuple[str, str, int, bytes, bytes | None, bytes]) -> int:
        """Append ``row`` leaving its position to the statement, and read it back."""
        backend = self._backend
        with backend.lock:
            if backend.in_transaction:
                # Exact inside the transaction; not remembered: it may yet roll back.
                return self._insert_returning(row)
            last = self._last_position
            position = self._insert_returning(row)
            self._quiet = self._quiet + 1 if last is not None and position == last + 1 else 0
            self._last_position = position
            return position

    def _insert_returning(self, row: tuple[str, str, int, bytes, bytes | None, bytes]) -> int:
        found = self._backend.query(INSERT_VIA_VIEW_RETURNING, (*row, None))
        return cast(int, found[0][0])

    def _next_log(self, stream: str, writer: str) -> list[Row]:
        return self._backend.query(NEXT_ROWS_LOG, (stream, writer))

    def _redact(self, stream: str, writer: str, seq: int) -> Entry:
        """Empty the entry's payload with ``secure_delete`` on (SQLite zeroes the bytes
        the row and its overflow pages held), then ``VACUUM`` (copies of the row that
        earlier page splits left in unused space of other pages, which secure_delete
        never covered, are not copied) and checkpoint the write-ahead log with TRUNCATE,
        so the file and the ``-wal`` file no longer hold the bytes."""
        backend = self._backend
        with backend.lock:
            before = backend.query("PRAGMA secure_delete")[0][0]
            backend.exec("PRAGMA secure_delete = ON")
            try:
                entry = super()._redact(stream, writer, seq)
            finally:
                backend.exec(f"PRAGMA secure_delete = {int(cast(int, before))}")
            backend.scrub()
        return entry

    def _workers_for(self, entries: int) -> int:
        if self._backend.path is None or entries < self.PARALLEL_MIN_ENTRIES or not sys.executable:
            return 1
        wanted = self._verify_workers or _cpus()
        return max(1, min(wanted, entries // self.MIN_ENTRIES_PER_WORKER))

    def _verify(self, stream: str, writer: str, *, here: bool = True) -> Verified:
        """As the base class; with ``here`` False a chain read through snapshots is
        checked by worker processes alone, this process only waiting for them (what the
        async face asks, so the event loop's thread never waits for the GIL)."""
        head = self._read_head(stream, writer)
        last = head[0]
        backend = self._backend
        # Snapshots read the file while appends go on only in WAL mode (a rollback journal
        # would hold writers back for the whole read), or a file read as immutable (no
        # writer); an edited head is left to the pass.
        if (
            backend.file_id is not None
            and (backend.wal or backend.immutable)
            and type(last) is int
            and 0 < last < _MAX_SEQ
        ):
            workers = self._workers_for(last)
            if workers > 1 or last >= self.SNAPSHOT_MIN_ENTRIES:
                tally = [0]  # redacted entries among 1..last
                try:
                    whole = (
                        self._check_ranges(stream, writer, last, workers, tally=tally)
                        if here
                        else self._check_ranges(
                            stream, writer, last, workers, here=False, tally=tally
                        )
                    )
                except _WorkerFailed as exc:
                    import logging  # deferred, like subprocess: only long chains need them

                    logging.getLogger("agentstore.sqlite").warning(
                        "verify by chunks unavailable (%s); verifying in one pass", exc
                    )
                else:
                    count = self._count_past(stream, writer, head, tally[0]) if whole else None
                    if count is not None:
                        return count
        return super()._verify(stream, writer)

    def _count_past(
        self, stream: str, writer: str, head: Head, redacted: int = 0
    ) -> Verified | None:
        """Once rows ``1..head`` are proven a chain (``redacted`` of them redacted): the
        count a single pass would return, when it would return one. Rows past the head
        (appended since it was read) are read as the single pass reads them; None when
        anything stands out (a seq below 1, a bad row past the head, a head the rows do
        not match), for the single pass to name."""
        low = self._backend.query(_LOWEST, (stream, writer))[0][0]
        if low is not None and (type(low) is not int or low < 1):
            return None
        seq = head[0]
        stored = self._backend.query(HASH_AT, (stream, writer, seq))
        at_head = [cast(bytes, stored[0][0])] if stored else []
        try:
            past, last_hash = verify_rows(
                stream,
                writer,
                self._chain_rows(stream, writer, after=seq),
                start_seq=seq + 1,
                start_prev=at_head[0] if at_head else None,
            )
            count = seq + past
            check_head(
                stream,
                writer,
                count,
                last_hash,
                first=head,
                at_first=at_head,
                read_head=self._read_head,
            )
        except ChainBroken:
            return None
        return Verified(count, redacted + past.redacted)

    def _check_ranges(
        self,
        stream: str,
        writer: str,
        last: int,
        workers: int,
        *,
        here: bool = True,
        tally: list[int] | None = None,
    ) -> bool:
        """Whether rows ``1..last`` prove a chain, read through snapshots of the file: by
        this process alone when ``workers`` is 1, else in chunks claimed in turn by it and
        ``workers - 1`` worker processes. The redacted rows among them are added to
        ``tally[0]``.

        Raises:
            _WorkerFailed: a snapshot or worker failed, or the checkers did not cover the
                chain.
        """
        found = [0]
        try:
            self._check_same_file()
            if workers == 1 and here:
                counts = [
                    self._check_here(lambda c: check_range(c, stream, writer, 1, last, found))
                ]
            else:
                counts = (
                    self._check_with_workers(stream, writer, last, workers, found)
                    if here
                    else self._check_with_workers(stream, writer, last, workers, found, here=False)
                )
            self._check_same_file()  # still: the snapshots read the store's own file
        except (OSError, sqlite3.Error, ValueError) as exc:  # ValueError: OverflowError too
            raise _WorkerFailed(f"{type(exc).__name__}: {exc}") from exc
        if any(count is None for count in counts):
            return False
        total = sum(count or 0 for count in counts)
        if total != last:  # a chunk nobody checked: never trust the sum over the chain
            raise _WorkerFailed(f"the checkers covered {total} of {last} entries")
        if tally is not None:
            tally[0] += found[0]
        return True

    def _check_with_workers(
        self,
        stream: str,
        writer: str,
        last: int,
        workers: int,
        tally: list[int],
        *,
        here: bool = True,
    ) -> list[int | None]:
        # Deferred: opening a store need not pay for them.
        import subprocess
        import tempfile

        assert self._backend.path is not None
        env = dict(os.environ)
        # -S keeps start-up quick; blake3's own folder is all the worker needs besides
        # the standard library.
        env["PYTHONPATH"] = str(Path(blake3.__file__).resolve().parent.parent)
        chunk = self.CHUNK_ROWS
        with tempfile.TemporaryDirectory(
            prefix="agentstore-verify-", ignore_cleanup_errors=True
        ) as claims:
            job = [
                str(self._backend.path),
                _hex(stream),
                _hex(writer),
                str(last),
                str(self._backend.busy_timeout or 10.0),
                str(chunk),
                claims,
                *(["immutable"] if self._backend.immutable else []),
            ]
            procs: list[subprocess.Popen[str]] = []
            try:
                for _ in range(workers - 1 if here else workers):
                    # A signal (Ctrl-C) raised while Popen is starting a worker would lose
                    # it, left running: hold them until the worker is in procs.
                    with _signals_held():
                        procs.append(
                            subprocess.Popen(
                                [sys.executable, "-S", str(_WORKER), *job],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                env=env,
                                encoding="utf-8",
                                errors="replace",
                            )
                        )
                if not here:
                    return [_result(p, tally) for p in procs]
                # This process claims and checks chunks too while the workers start.
                claim, give_up = claim_in(claims), give_up_in(claims)
                own = self._check_here(
                    lambda c: check_chunks(
                        c,
                        stream,
                        writer,
                        last,
                        chunk=chunk,
                        claim=claim,
                        give_up=give_up,
                        tally=tally,
                    )
                )
                return [own, *(_result(p, tally) for p in procs)]
            finally:
                # Every path, a failure included, leaves no worker running and no pipe
                # open, before the claims folder goes.
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                    with p:  # closes the pipes and reaps the process
                        pass

    def _check_same_file(self) -> None:
        assert self._backend.path is not None
        if file_id(self._backend.path) != self._backend.file_id:
            raise _WorkerFailed(f"{self._backend.path} is no longer the file this store opened")

    def _check_here(self, check: Callable[[sqlite3.Connection], int | None]) -> int | None:
        backend = self._backend
        assert backend.path is not None
        conn = open_snapshot(
            backend.path, backend.busy_timeout or 10.0, immutable=backend.immutable
        )
        try:
            return check(conn)
        finally:
            conn.close()


class _WorkerFailed(Exception):
    pass


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM blocked in this thread for the block, delivered after it."""
    import signal  # deferred, like subprocess: only long chains need it

    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _hex(name: str) -> str:
    return name.encode("utf-8", "surrogatepass").hex()


def _result(proc: subprocess.Popen[str], tally: list[int]) -> int | None:
    """The rows a worker checked (None: it found the chain broken); the redacted rows
    among them are added to ``tally[0]``."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        raise _WorkerFailed(f"worker exited with {proc.returncode}: {tail}")
    match out.split():
        case ["count", count, redacted] if count.isdecimal() and redacted.isdecimal():
            tally[0] += int(redacted)
            return int(count)
        case ["broken"]:
            return None
    raise _WorkerFailed(f"unreadable worker output {out[-200:]!r}")
