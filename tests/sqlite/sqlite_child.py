"""A child process for the cross-process tests (run as a script, not collected).

``python sqlite_child.py MODE DB N``: opens the store on DB, prints ``ready``, waits for a
line on stdin, then does N operations of MODE. The ``*-until-killed`` modes never stop:
they print what each call returned, flushed before the next call, until killed.
"""

from __future__ import annotations

import os
import sys

import agentstore


def main() -> None:
    mode, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": db}})
    with agentstore.open(policy) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        pid = os.getpid()
        log = store.log("shared", writer="w")
        if mode == "append":
            for i in range(n):
                log.append(f"{pid}:{i}".encode())
        elif mode == "bump":
            generation = store.generation("g")
            for _ in range(n):
                generation.bump()
        elif mode == "increment":
            for _ in range(n):
                store.rate_limits.increment("k", 1, 3600)
        elif mode == "append-until-killed":
            i = 0
            while True:
                e = log.append(f"{pid}:{i}".encode())
                sys.stdout.write(f"{e.seq} {e.content_hash.hex()}\n")
                sys.stdout.flush()
                i += 1
        elif mode == "batch-until-killed":
            i = 0
            while True:
                batch = log.append_many(f"{pid}:{i}:{k}".encode() for k in range(n))
                sys.stdout.write(f"{batch[-1].seq} {batch[-1].content_hash.hex()}\n")
                sys.stdout.flush()
                i += 1
        else:
            raise SystemExit(f"unknown mode {mode}")
        print("done", flush=True)


if __name__ == "__main__":
    main()
