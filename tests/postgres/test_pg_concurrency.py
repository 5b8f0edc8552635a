"""Concurrency on the real server: processes and threads racing on one log and counters."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import agentstore
import agentstore_postgres
import psycopg
import pytest
from agentstore import StorePolicy
from pg_procs import Workers


def test_four_processes_append_to_one_log(pg_policy: StorePolicy, pg_schema: str) -> None:
    with agentstore.open(pg_policy):  # create the schema once, as a deployment would
        pass
    workers = Workers(*[["append", pg_schema, "race", "w", "500"] for _ in range(4)])
    try:
        workers.wait_ready()
        results = workers.go()
    finally:
        workers.kill()
    seqs = sorted(s for r in results for s in r["seqs"])
    assert seqs == list(range(1, 2001))  # every call returned a distinct seq
    with agentstore.open(pg_policy) as store:
        log = store.log("race", writer="w")
        assert log.verify() == 2000
        entries = list(log.entries())
        assert [e.seq for e in entries] == list(range(1, 2001))
        # Each process's own appends kept their order within the chain.
        for r in results:
            assert r["seqs"] == sorted(r["seqs"])


def test_eight_threads_append_to_one_log(pg_policy: StorePolicy) -> None:
    errors: list[BaseException] = []
    seqs: list[int] = []
    start = threading.Barrier(8)
    with agentstore.open(pg_policy) as store:
        log = store.log("race", writer="w")

        def work(n: int) -> None:
            try:
                start.wait(10)
                mine = [log.append(f"{n}:{i}".encode()).seq for i in range(250)]
                seqs.extend(mine)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert sorted(seqs) == list(range(1, 2001))
        assert log.verify() == 2000
        head = log.head()
        assert head is not None and head.seq == 2000


def test_batches_and_single_appends_race_from_two_stores(pg_policy: StorePolicy) -> None:
    # Two stores, two pools, two head caches: each store's cached head goes stale.
    with agentstore.open(pg_policy) as a, agentstore.open(pg_policy) as b:
        la, lb = a.log("mix", writer="w"), b.log("mix", writer="w")
        errors: list[BaseException] = []

        def singles() -> None:
            try:
                for i in range(200):
                    la.append(b"s%d" % i)
            except BaseException as exc:
                errors.append(exc)

        def batches() -> None:
            try:
                for i in range(20):
                    lb.append_many([b"b%d-%d" % (i, j) for j in range(10)])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=singles), threading.Thread(target=batches)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert la.verify() == 400
        # A batch stays contiguous: its ten entries were committed together.
        payloads = [e.payload for e in la.entries()]
        for i in range(20):
            at = payloads.index(b"b%d-0" % i)
            assert payloads[at : at + 10] == [b"b%d-%d" % (i, j) for j in range(10)]


def test_generation_and_rate_limit_totals_from_four_processes(
    pg_policy: StorePolicy, pg_schema: str
) -> None:
    with agentstore.open(pg_policy):
        pass
    workers = Workers(*[["counters", pg_schema, "250"] for _ in range(4)])
    try:
        workers.wait_ready()
        workers.go()
    finally:
        workers.kill()
    with agentstore.open(pg_policy) as store:
        assert store.generation("shared").current() == 1000
        assert store.rate_limits.current("shared") == 1000


def test_different_writers_do_not_wait_for_each_other(
    pg_policy: StorePolicy, pg_url: str, pg_schema: str
) -> None:
    """An append to one log never waits on another log: no table or global lock."""
    with agentstore.open(pg_policy) as store:
        store.log("s", writer="a").append(b"a1")
        # An append held uncommitted: a store on an application's connection whose
        # transaction stays open keeps every lock the append took until it ends.
        app: psycopg.Connection[Any] = psycopg.connect(pg_url)
        app.execute(f"SET search_path = {pg_schema}")
        app.commit()
        held = agentstore_postgres.open_on_connection(app)
        try:
            app.execute("SELECT 1")  # the application opens its transaction
            held.log("s", writer="a").append(b"a2")
            held.generation("g").bump()
            done = threading.Event()

            def other_writer() -> None:
                store.log("s", writer="b").append(b"b1")
                store.log("s", writer="b").append_many([b"b2", b"b3"])
                store.generation("other").bump()
                done.set()

            t = threading.Thread(target=other_writer)
            t.start()
            assert done.wait(5), "an append to writer b waited on writer a's transaction"
            t.join()
            # Only writer a's next seq is held: nothing wider.
            locks = app.execute(
                "SELECT locktype, mode FROM pg_locks WHERE pid = pg_backend_pid()"
                " AND (locktype = 'advisory' OR (locktype = 'relation' AND mode NOT IN"
                " ('AccessShareLock', 'RowExclusiveLock')))"
            ).fetchall()
            assert locks == []
        finally:
            app.rollback()
            held.close()
            app.close()
        assert store.log("s", writer="b").verify() == 3
        assert store.log("s", writer="a").verify() == 1  # the held append rolled back


@pytest.mark.parametrize("writers", [4])
def test_threads_on_distinct_writers_all_land(pg_policy: StorePolicy, writers: int) -> None:
    with agentstore.open(pg_policy) as store:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                log = store.log("fan", writer=f"w{n}")
                for i in range(100):
                    log.append(b"%d" % i)
                log.append_many([b"x"] * 100)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        for n in range(writers):
            assert store.log("fan", writer=f"w{n}").verify() == 200


def test_a_writer_killed_mid_append_loses_nothing_acknowledged(
    pg_policy: StorePolicy, pg_schema: str
) -> None:
    with agentstore.open(pg_policy):
        pass
    victim = Workers(["trickle", pg_schema, "crash", "w", "100000"])
    others = Workers(*[["append", pg_schema, "crash", "w", "300"] for _ in range(2)])
    acknowledged: dict[int, bytes] = {}
    try:
        victim.wait_ready()
        others.wait_ready()
        proc = victim.procs[0]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        for p in others.procs:  # start the others without waiting for their results
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        while len(acknowledged) < 200:
            seq, payload = proc.stdout.readline().split()
            acknowledged[int(seq)] = payload.encode()
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of its stream of appends
        proc.wait(10)
        results = [
            json.loads(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in others.procs
        ]
        assert all(p.returncode == 0 for p in others.procs)
    finally:
        victim.kill()
        others.kill()
    with agentstore.open(pg_policy) as store:
        log = store.log("crash", writer="w")
        total = log.verify()  # contiguous and chained, whatever the kill interrupted
        stored = {e.seq: e.payload for e in log.entries()}
    assert len(stored) == total
    for seq, payload in acknowledged.items():  # every acknowledged append is there
        assert stored[seq] == payload
    survivors = [s for r in results for s in r["seqs"]]
    assert len(survivors) == 600 and set(survivors) <= set(stored)
    # The victim's appends beyond those it lived to report may or may not have committed.
    assert total >= 600 + len(acknowledged)
