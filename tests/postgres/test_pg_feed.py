"""The feed on PostgreSQL: positions from (transaction id, ordinal), read below the
snapshot's xmin, so a reader never receives a position below one it already has."""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any

import agentstore
import agentstore_postgres
import psycopg
import pytest
from agentstore import CommitEvent, StorePolicy
from agentstore.errors import HeadMoved
from pg_procs import Workers


def committed(conn: psycopg.Connection[Any], schema: str) -> dict[int, tuple[str, str, int]]:
    """Every committed entry, by position, read straight from the table."""
    rows = conn.execute(
        f"SELECT tx::text, idx, stream, writer, seq FROM {schema}.agentstore_log"
    ).fetchall()
    return {(int(tx) << 32) + idx: (s, w, q) for tx, idx, s, w, q in rows}


class FeedReader(threading.Thread):
    """Reads the feed from 0 again and again until told to stop, then once more."""

    def __init__(self, store: agentstore.Store) -> None:
        super().__init__()
        self.store = store
        self.got: list[CommitEvent] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            last = 0
            while True:
                stopping = self.stop.is_set()
                for event in self.store.feed(after=last, limit=500):
                    self.got.append(event)
                    last = event.position
                if stopping:
                    return
                time.sleep(0.002)
        except BaseException as exc:
            self.error = exc


def test_no_late_gaps_while_eight_processes_and_threads_append(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    """The issue's proof: 8 processes, 2 threads and 2 processes whose transactions take
    their id early and commit late all append while two readers follow the feed; each
    reader gets every committed entry exactly once, in strictly increasing positions."""
    with agentstore.open(pg_policy) as store:
        fast = [["append", pg_schema, f"s{n % 3}", f"p{n}", "150"] for n in range(8)]
        late = [["slow", pg_schema, "s9", "20", "0.04"] for _ in range(2)]
        workers = Workers(*fast, *late)
        reader = FeedReader(store)
        followed: list[CommitEvent] = []

        def follow() -> None:
            for event in store.follow(timeout=3.0):
                followed.append(event)

        follower = threading.Thread(target=follow)
        errors: list[BaseException] = []

        def local(n: int) -> None:
            try:
                log = store.log("s0", writer=f"t{n}")
                for i in range(50):
                    log.append(b"t%d" % i)
                    log.append_many([b"a", b"b"])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=local, args=(n,)) for n in range(2)]
        try:
            workers.wait_ready()
            reader.start()
            follower.start()
            for t in threads:
                t.start()
            workers.go(timeout=180)
            for t in threads:
                t.join(60)
        finally:
            workers.kill()
            reader.stop.set()
            reader.join(60)
        follower.join(60)
        assert errors == [] and reader.error is None
        everything = committed(pg_conn, pg_schema)
        assert len(everything) == 8 * 150 + 2 * 20 + 2 * 150
        for got in (reader.got, followed):
            positions = [e.position for e in got]
            assert all(a < b for a, b in itertools.pairwise(positions))
            assert {e.position: (e.stream, e.writer, e.seq) for e in got} == everything
        assert store.position() == max(everything)


def test_an_open_writing_transaction_holds_the_feed_back_not_writers(
    pg_policy: StorePolicy, pg_url: str
) -> None:
    """A transaction that has written (it holds an id) and stays open, anywhere on the
    server, keeps younger commits out of the feed until it ends; appends do not wait."""
    with agentstore.open(pg_policy) as store:
        first = store.log("s", writer="a").append(b"1")
        assert store.position() == first.position
        other = psycopg.connect(pg_url)  # another session, not even on the store's schema
        try:
            other.execute("SELECT pg_current_xact_id()")
            later = store.log("s", writer="b").append(b"2")  # does not wait
            assert later.position > first.position
            assert store.position() == first.position
            assert [e.position for e in store.feed()] == [first.position]
            assert [e.seq for e in store.stream("s").entries()] == [1]
            # The log's own reads are not held back.
            assert store.log("s", writer="b").head() == later
        finally:
            other.rollback()
            other.close()
        assert [e.position for e in store.feed()] == [first.position, later.position]
        assert store.position() == later.position


def test_appends_in_one_application_transaction_share_its_id(
    pg_policy: StorePolicy, pg_url: str, pg_schema: str
) -> None:
    with agentstore.open(pg_policy):
        pass
    conn = psycopg.connect(pg_url)
    conn.execute(f"SET search_path = {pg_schema}")
    conn.commit()
    try:
        with agentstore_postgres.open_on_connection(conn) as store:
            with conn.transaction():
                a = store.log("s", writer="a").append(b"1")
                many = store.log("s", writer="b").append_many([b"2", b"3", b"4"])
                c = store.log("t", writer="a").append(b"5")
            positions = [a.position, *(e.position for e in many), c.position]
            assert len({p >> 32 for p in positions}) == 1  # one transaction id
            assert [p & 0xFFFFFFFF for p in positions] == [1, 2, 3, 4, 5]
            assert [e.position for e in store.feed()] == positions
    finally:
        conn.close()


def test_a_redacted_payload_leaves_the_table_files(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    """After redact() (which VACUUMs the table), neither the table's nor its TOAST
    table's file on disk holds the removed bytes (read back after a CHECKPOINT)."""
    small = b"SECRET-small-4d1c9e"
    big = b"SECRET-big-77a0f2" + os.urandom(9000)  # incompressible: stored in TOAST
    with agentstore.open(pg_policy) as store:
        log = store.log("conv", writer="alice")
        for i in range(30):
            log.append(b"filler %d" % i)
        log.append(small)
        log.append(big)
        for i in range(30):
            log.append(b"more filler %d" % i)
        table, toast = pg_conn.execute(
            "SELECT c.oid::regclass::text, c.reltoastrelid::regclass::text FROM pg_class c "
            "WHERE c.oid = %s::regclass",
            (f"{pg_schema}.agentstore_log",),
        ).fetchone()  # type: ignore[misc]

        def on_disk(marker: bytes) -> bool:
            pg_conn.execute("CHECKPOINT")
            found = False
            for rel in (table, toast):
                path = pg_conn.execute("SELECT pg_relation_filepath(%s)", (rel,)).fetchone()
                assert path is not None
                data = pg_conn.execute("SELECT pg_read_binary_file(%s)", (path[0],)).fetchone()
                assert data is not None
                found = found or marker in bytes(data[0])
            return found

        assert on_disk(small) and on_disk(big[:40]) and on_disk(big[-40:])
        for seq in (31, 32):
            entry = log.redact(seq, reason="erasure request")
            assert entry.redacted and entry.payload == b""
        assert not on_disk(small)
        assert not on_disk(big[:40]) and not on_disk(big[-40:])
        verified = log.verify()
        assert verified == 62 and verified.redacted == 2


@pytest.mark.parametrize("batch", [1, 3])
def test_processes_racing_on_expect_head_each_head_has_one_winner(
    pg_policy: StorePolicy, pg_schema: str, batch: int
) -> None:
    with agentstore.open(pg_policy):
        pass
    heads = 60 * batch
    workers = Workers(*[["expect", pg_schema, "s", "w", str(heads), str(batch)]] * 6)
    try:
        workers.wait_ready()
        results = workers.go(timeout=180)
    finally:
        workers.kill()
    won = sorted(h for r in results for h in r["won"])
    assert won == list(range(0, heads, batch))  # each head value won exactly once
    with agentstore.open(pg_policy) as store:
        log = store.log("s", writer="w")
        assert log.verify() == heads
        entries = list(log.entries())
        by_pid = {r["pid"]: set(r["won"]) for r in results}
        for e in entries:  # every entry was written by the process that won its head
            pid, head, i = e.payload.decode().split(":")
            assert int(head) + int(i) + 1 == e.seq
            assert int(head) in by_pid[int(pid)]
        with pytest.raises(HeadMoved) as lost:
            log.append(b"late", expect_head=heads - 1)
        assert lost.value.actual == heads
        assert log.verify() == heads
