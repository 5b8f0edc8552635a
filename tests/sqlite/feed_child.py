"""A child process for the feed and conditional-append tests (run as a script).

``python feed_child.py MODE DB ARG``: opens the store on DB, prints ``ready``, waits for a
line on stdin, then:

- ``append N``: appends N entries to log ``("feed", "w<pid>")``, one per call, and prints
  ``done``;
- ``append-if HEAD``: tries one append to log ``("race", "w")`` with ``expect_head=HEAD``
  and prints ``won POSITION`` or ``moved ACTUAL``.
"""

from __future__ import annotations

import os
import sys

import agentstore


def main() -> None:
    mode, db, arg = sys.argv[1], sys.argv[2], int(sys.argv[3])
    policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": db}})
    with agentstore.open(policy) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        if mode == "append":
            log = store.log("feed", writer=f"w{os.getpid()}")
            for i in range(arg):
                log.append(b"%d" % i)
            print("done", flush=True)
        elif mode == "append-if":
            try:
                entry = store.log("race", writer="w").append(
                    f"from {os.getpid()}".encode(), expect_head=arg
                )
            except agentstore.HeadMoved as exc:
                print(f"moved {exc.actual}", flush=True)
            else:
                print(f"won {entry.position}", flush=True)
        else:
            raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
