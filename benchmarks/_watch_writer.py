"""Writer process of the watch-latency scenario (``python -m benchmarks._watch_writer DB N PAUSE``).

Opens the agentstore store on DB (without ``watch``), prints ``ready``, waits for a line on
stdin, then appends N entries, one every PAUSE seconds, printing ``position seconds``
(``time.monotonic()`` as each append returned, a clock every process on the machine
shares) after each, and ``done`` at the end.
"""

from __future__ import annotations

import sys
import time

import agentstore

from benchmarks.common import PAYLOAD, STREAM


def main(argv: list[str]) -> int:
    db, n, pause = argv[0], int(argv[1]), float(argv[2])
    policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": db}})
    with agentstore.open(policy) as store:
        log = store.log(STREAM, writer="watch-writer")
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(n):
            time.sleep(pause)
            entry = log.append(PAYLOAD)
            print(entry.position, time.monotonic(), flush=True)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
