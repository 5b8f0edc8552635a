"""The SQL log store, with a verify that checks a long chain in parallel worker processes."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import blake3
from agentstore.errors import ChainBroken
from agentstore.sql import SqlLogStore
from agentstore.sql.stores import Head, check_head

from agentstore_sqlite._verify_worker import check_chunks, check_range, claim_in, open_snapshot
from agentstore_sqlite.backend import SqliteBackend

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

_WORKER: Final = Path(__file__).with_name("_verify_worker.py")
_HASH_AT: Final = (
    "SELECT content_hash FROM agentstore_log WHERE stream = ? AND writer = ? AND seq = ?"
)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class SqliteLogStore(SqlLogStore):
    """:class:`~agentstore.sql.SqlLogStore` whose ``verify`` uses several processes.

    A chain of at least :attr:`PARALLEL_MIN_ENTRIES` entries in a database file is split
    into seq ranges checked at once by worker processes, each reading its range from the
    file in one pass (each row needs only the stored row before it). The result, the
    first broken seq included, is the one a single pass gives, the checks against the
    recorded head included. Entries appended while a verify runs are not part of it. Any
    trouble starting or hearing from a worker falls back to checking in this process.
    A shorter chain of at least :attr:`SNAPSHOT_MIN_ENTRIES` is read the same way, as one
    range, in this process.
    """

    PARALLEL_MIN_ENTRIES: Final = 100_000
    MIN_ENTRIES_PER_WORKER: Final = 50_000
    # Seqs per chunk that the processes of a parallel verify claim in turn: about 15 ms of
    # checking, so all finish within that of each other whatever each started or ran at.
    CHUNK_ROWS: Final = 10_000
    # From here a chain in a file is read through a snapshot connection of its own, whose
    # loop is faster than the shared one's; below, opening that connection costs more.
    SNAPSHOT_MIN_ENTRIES: Final = 10_000

    _backend: SqliteBackend  # the base keeps it as a Backend; here it is always SQLite

    def __init__(self, backend: SqliteBackend, *, verify_workers: int = 0) -> None:
        super().__init__(backend)
        self._verify_workers = verify_workers

    def _workers_for(self, entries: int) -> int:
        if self._backend.path is None or entries < self.PARALLEL_MIN_ENTRIES:
            return 1
        wanted = self._verify_workers or _cpus()
        return max(1, min(wanted, entries // self.MIN_ENTRIES_PER_WORKER))

    def _verify(self, stream: str, writer: str) -> int:
        head = self._read_head(stream, writer)
        workers = self._workers_for(head[0]) if sys.executable else 1
        if workers > 1 or (self._backend.path is not None and head[0] >= self.SNAPSHOT_MIN_ENTRIES):
            try:
                count = self._verify_parallel(stream, writer, head[0], workers)
            except _WorkerFailed as exc:
                import logging  # deferred, like subprocess: only long chains need them

                logging.getLogger("agentstore.sqlite").warning(
                    "verify by seq ranges unavailable (%s); verifying in one pass", exc
                )
            else:
                if self._check_ends(stream, writer, head):
                    return count
        return super()._verify(stream, writer)

    def _check_ends(self, stream: str, writer: str, head: Head) -> bool:
        """After rows ``1..head`` proved a chain: nothing is stored below it, its last
        entry is the recorded head, and nothing lies past the head recorded now. False
        when a stored seq is not an integer: a single pass then names where."""
        query = self._backend.query
        low, high = cast(tuple[int | None, int | None], query(self.SPAN, (stream, writer) * 2)[0])
        if not all(v is None or type(v) is int for v in (low, high)):
            return False
        if low is not None and low < 1:
            raise ChainBroken(stream, writer, 1, f"expected seq 1, found {low} (out of order)")
        seq, digest = head
        stored = query(_HASH_AT, (stream, writer, seq))
        at_head = [cast(bytes, stored[0][0])] if stored else []
        check_head(stream, writer, seq, digest, first=head, at_first=at_head, read_head=None)
        if high is not None and high > seq:
            now = self._read_head(stream, writer)
            check_head(stream, writer, high, None, first=now, at_first=[], read_head=None)
        return True

    def _verify_parallel(self, stream: str, writer: str, last: int, workers: int) -> int:
        """Check rows ``1..last`` through snapshots of the file: in this process alone when
        ``workers`` is 1, else in chunks claimed in turn by it and ``workers - 1`` worker
        processes. Returns the rows checked; raises ChainBroken at the first broken seq."""
        if workers == 1:
            whole = self._check_here(
                lambda conn: check_range(conn, stream, writer, 1, last, head=last)
            )
            results = [whole]
        else:
            results = self._check_with_workers(stream, writer, last, workers)
        broken = [r for r in results if "seq" in r]
        if broken:
            first_broken = min(broken, key=lambda r: int(r["seq"]))
            raise ChainBroken(stream, writer, int(first_broken["seq"]), str(first_broken["detail"]))
        count = sum(int(r["count"]) for r in results)
        if count != last:  # a chunk nobody checked: never trust the sum over the chain
            raise _WorkerFailed(f"the checkers covered {count} of {last} entries")
        return count

    def _check_with_workers(
        self, stream: str, writer: str, last: int, workers: int
    ) -> list[dict[str, Any]]:
        # Deferred: opening a store need not pay for them.
        import subprocess
        import tempfile

        assert self._backend.path is not None
        env = dict(os.environ)
        # -S keeps start-up quick; blake3's own folder is all the worker needs besides
        # the standard library.
        env["PYTHONPATH"] = str(Path(blake3.__file__).resolve().parent.parent)
        chunk = self.CHUNK_ROWS
        procs: list[subprocess.Popen[str]] = []
        try:
            with tempfile.TemporaryDirectory(prefix="agentstore-verify-") as claims:
                job = [
                    str(self._backend.path),
                    _hex(stream),
                    _hex(writer),
                    str(last),
                    str(self._backend.busy_timeout or 10.0),
                    str(chunk),
                    claims,
                ]
                for _ in range(workers - 1):
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, "-S", str(_WORKER), *job],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            env=env,
                            text=True,
                        )
                    )
                # This process claims and checks chunks too while the workers start.
                claim = claim_in(claims)
                own = self._check_here(
                    lambda conn: check_chunks(conn, stream, writer, last, chunk=chunk, claim=claim)
                )
                return [own, *(_result(p) for p in procs)]
        except (OSError, sqlite3.Error) as exc:
            raise _WorkerFailed(str(exc)) from exc
        finally:
            # Every path, a failure included, leaves no worker running and no pipe open.
            for p in procs:
                if p.poll() is None:
                    p.kill()
                with p:  # closes the pipes and reaps the process
                    pass

    def _check_here(self, check: Callable[[sqlite3.Connection], dict[str, Any]]) -> dict[str, Any]:
        assert self._backend.path is not None
        conn = open_snapshot(self._backend.path, self._backend.busy_timeout or 10.0)
        try:
            return check(conn)
        finally:
            conn.close()


class _WorkerFailed(Exception):
    pass


def _hex(name: str) -> str:
    return name.encode("utf-8", "surrogatepass").hex()


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        raise _WorkerFailed(f"worker exited with {proc.returncode}: {tail}")
    match out.split(" ", 2):
        case ["count", count] if count.strip().isdecimal():
            return {"count": int(count)}
        case ["broken", seq, detail] if seq.isdecimal():
            return {"seq": int(seq), "detail": detail}
    raise _WorkerFailed(f"unreadable worker output {out[-200:]!r}")
