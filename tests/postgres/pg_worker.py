"""A separate process for the postgres tests: ``python pg_worker.py COMMAND SCHEMA ARGS``.

Each command opens a store on ``$AGENTSTORE_TEST_POSTGRES_URL`` in SCHEMA, prints
``ready``, waits for a line on stdin (the start signal, so all workers race), does its
work and prints one JSON line with the result. Any exception exits non-zero with the
traceback on stderr.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import agentstore
from agentstore import CommitEvent, StorePolicy


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
    events = [[e.stream, e.writer, e.seq, e.content_hash.hex()] for e in got]
    print(json.dumps({"events": events}), flush=True)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"append": append, "counters": counters, "listen": listen, "trickle": trickle}[command](*args)
