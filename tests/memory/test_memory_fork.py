"""The memory driver across ``os.fork()``: the child gets a consistent private copy.

Forks happen while other threads append, so without care a child could inherit a lock
held by a thread that does not exist there (and hang) or a change half made.
"""

from __future__ import annotations

import threading

import agentstore
from agentstore import StorePolicy
from forked import Child


def test_forks_during_appends_give_consistent_private_copies() -> None:
    with agentstore.open(StorePolicy("memory")) as store:
        stop = threading.Event()
        streams: dict[str, str] = {}  # each writer's current stream: logs stay short

        def hammer(writer: str) -> None:
            n = 0
            while not stop.is_set():
                streams[writer] = stream = f"s{n // 100}"
                store.log(stream, writer=writer).append_many([b"a", b"b", b"c"])
                store.rate_limits.increment("k", 1, 3600)
                n += 1

        threads = [threading.Thread(target=hammer, args=(f"w{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        try:
            for _ in range(15):

                def in_child(child: Child) -> object:
                    counts = {}
                    for writer, stream in streams.items():
                        log = store.log(stream, writer=writer)
                        n = log.verify()  # intact: no change was half-done
                        assert n % 3 == 0  # a batch is all there or not at all
                        log.append(b"child")  # no lock left held by a vanished thread
                        assert log.verify() == n + 1
                        counts[f"{stream}/{writer}"] = n
                    store.rate_limits.increment("k", 1, 3600)
                    return counts

                child = Child(in_child)
                try:
                    counts = child.result(timeout=10)
                finally:
                    child.close()
                for name, n in counts.items():
                    stream, writer = name.split("/")
                    assert store.log(stream, writer=writer).verify() >= n
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        # the children's writes stayed in the children
        for writer, stream in streams.items():
            for n in range(int(stream[1:]) + 1):
                log = store.log(f"s{n}", writer=writer)
                assert b"child" not in [e.payload for e in log.entries()]
