"""A separate process for the postgres tests: ``python pg_worker.py COMMAND SCHEMA ARGS``.

Each command opens a store on ``$AGENTSTORE_TEST_POSTGRES_URL`` in SCHEMA, prints
``ready``, waits for a line on stdin (the start signal, so all workers race), does its
work and prints one JSON line with the result. Any exception exits non-zero with the
traceback on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import agentstore
from agentstore import CommitEvent, StorePolicy
from agentstore.errors import HeadMoved


def open_store(schema: str, **extra: object) -> agentstore.Store:
    section = {"url": {"env": "AGENTSTORE_TEST_POSTGRES_URL"}, "schema": schema, **extra}
    return agentstore.open(StorePolicy("postgres", sections={"postgres": section}))


def ready() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def append(schema: str, stream: str, writer: str, count: str, notify: str = "") -> None:
    with open_store(schema, **({"notify": True} if notify else {})) as store:
        log = store.log(stream, writer=writer)
        ready()
        seqs = [log.append(f"{i}".encode()).seq for i in range(int(count))]
    print(json.dumps({"seqs": seqs}), flush=True)


def trickle(schema: str, stream: str, writer: str, count: str) -> None:
    """Append ``count`` entries, printing ``seq payload`` for each as soon as it returns."""
    with open_store(schema) as store:
        log = store.log(stream, writer=writer)
        ready()
        for i in range(int(count)):
            payload = f"trickle-{i}"
            print(log.append(payload.encode()).seq, payload, flush=True)
    print(json.dumps({"done": True}), flush=True)


def expect(schema: str, stream: str, writer: str, heads: str, batch: str) -> None:
    """Race for each head value 0 .. heads - 1 with ``expect_head``; print the ones won.

    A lost race names the actual head, from which the next try starts.
    """
    with open_store(schema) as store:
        log = store.log(stream, writer=writer)
        ready()
        won: list[int] = []
        head, size = 0, int(batch)
        while head < int(heads):
            mine = [f"{os.getpid()}:{head}:{i}".encode() for i in range(size)]
            try:
                if size == 1:
                    log.append(mine[0], expect_head=head)
                else:
                    log.append_many(mine, expect_head=head)
            except HeadMoved as exc:
                assert exc.actual > head, (exc.actual, head)
                head = exc.actual
                continue
            won.append(head)
            head += size
    print(json.dumps({"won": won, "pid": os.getpid()}), flush=True)


def slow(schema: str, stream: str, count: str, hold: str) -> None:
    """Append ``count`` entries, each in an application transaction that took its
    transaction id before the append and commits ``hold`` seconds after it: commits that
    land late, after younger transactions' (the case a feed must not show out of order)."""
    import agentstore_postgres
    import psycopg

    conn = psycopg.connect(os.environ["AGENTSTORE_TEST_POSTGRES_URL"])
    conn.execute(f"SET search_path = {schema}")
    conn.commit()
    with agentstore_postgres.open_on_connection(conn) as store:
        log = store.log(stream, writer=f"slow{os.getpid()}")
        ready()
        for i in range(int(count)):
            with conn.transaction():
                conn.execute("SELECT pg_current_xact_id()")  # the id is taken first
                time.sleep(float(hold) / 2)
                log.append(f"slow-{i}".encode())
                time.sleep(float(hold) / 2)
    conn.close()
    print(json.dumps({"done": True}), flush=True)


def counters(schema: str, count: str) -> None:
    with open_store(schema) as store:
        gen = store.generation("shared")
        ready()
        for _ in range(int(count)):
            gen.bump()
            store.rate_limits.increment("shared", 1, 3600.0)
    print(json.dumps({"done": True}), flush=True)


def listen(schema: str, expected: str, timeout: str) -> None:
    """Collect doorbell events from other processes until ``expected`` arrive."""
    got: list[CommitEvent] = []
    enough = threading.Event()

    def on_commit(event: CommitEvent) -> None:
        got.append(event)
        if len(got) >= int(expected):
            enough.set()

    with open_store(schema, notify=True) as store:
        store.doorbell.subscribe(on_commit)
        ready()
        enough.wait(float(timeout))
        time.sleep(0.5)  # anything announced after the expected ones would show up too
    events = [[e.stream, e.writer, e.seq, e.content_hash.hex(), e.position] for e in got]
    print(json.dumps({"events": events}), flush=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    commands = {
        "append": append,
        "counters": counters,
        "expect": expect,
        "listen": listen,
        "slow": slow,
        "trickle": trickle,
    }
    commands[command](*args)
