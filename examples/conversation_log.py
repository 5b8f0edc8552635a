"""A conversation log with a doorbell.

Two agents, alice and bob, take turns in one stream; each appends to its own chained log.
A doorbell subscriber forwards every commit event to a queue, the way a consumer bridges
events onto its message bus; a reader thread takes each event and fetches the entry it
announces (an event carries where the entry landed and its hash, never the payload).
Finally both chains are verified.

Run it:  python examples/conversation_log.py [FOLDER]   (default: a temporary folder)
"""

from __future__ import annotations

import queue
import sys
import tempfile
import threading
from pathlib import Path

import agentstore
from agentstore import CommitEvent

STREAM = "conv:standup"
TURNS = [
    ("alice", "Morning. I shipped the chain verifier."),
    ("bob", "Nice. I'm on the doorbell bridge."),
    ("alice", "Anything blocking you?"),
    ("bob", "No, done by noon."),
]


def main(folder: Path) -> None:
    policy = agentstore.StorePolicy(
        "sqlite", sections={"sqlite": {"path": str(folder / "conversation.db")}}
    )
    with agentstore.open(policy) as store:
        events: queue.Queue[CommitEvent | None] = queue.Queue()
        store.doorbell.subscribe(events.put)  # cheap and non-blocking: the writer never waits

        def reader() -> None:
            while (event := events.get()) is not None:
                log = store.log(event.stream, event.writer)
                entry = next(log.entries(after=event.seq - 1))
                print(
                    f"rung: {event.stream} {event.writer} #{event.seq} "
                    f"{event.content_hash.hex()[:12]}  {entry.payload.decode()!r}"
                )

        bridge = threading.Thread(target=reader)
        bridge.start()
        for writer, text in TURNS:
            store.log(STREAM, writer).append(text.encode())
        events.put(None)
        bridge.join()

        for writer in ("alice", "bob"):
            count = store.log(STREAM, writer).verify()
            print(f"verified: {STREAM} {writer}, {count} entries, chain intact")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
