"""A consumer that never misses a commit: the feed, a checkpointed position, safe retries.

Two agents write a conversation. A consumer (an indexer, say) follows the store's commit
feed and keeps the last position it handled in a generation (a monotonic counter, so a
checkpoint never moves back). It stops half-way, as a crashed process would, and a second
consumer resumes from the checkpoint: every commit is handled exactly once. An agent
retries an append whose answer it "lost" with ``expect_head``: stored once. The
conversation is read back across both writers, a turn holding personal data is erased,
and the chain still verifies.

Run it:  python examples/feed_consumer.py
"""

from __future__ import annotations

import agentstore

STREAM = "conv:support"
CHECKPOINT = "indexer:position"


def consume(store: agentstore.Store, handled: list[int], stop_after: int | None) -> None:
    """Handle commits from the checkpoint on, until ``stop_after`` of them or a quiet second."""
    checkpoint = store.generation(CHECKPOINT)
    for count, event in enumerate(store.follow(after=checkpoint.current(), timeout=1.0), 1):
        handled.append(event.position)  # the work: index the entry the event names
        checkpoint.advance_to(event.position)  # then remember it
        if count == stop_after:
            return


def main() -> None:
    with agentstore.open(agentstore.StorePolicy("memory")) as store:
        user, agent = store.log(STREAM, writer="user"), store.log(STREAM, writer="agent")
        user.append(b"my order 1182 never arrived")
        agent.append(b"sorry! can you confirm your address?")
        user.append(b"12 Elm Street, Springfield")
        agent.append(b"thanks, a new parcel ships today")

        handled: list[int] = []
        consume(store, handled, stop_after=2)  # ... and the process dies
        print("first consumer handled", handled)
        user.append(b"great, thank you")
        consume(store, handled, stop_after=None)  # a new one resumes from the checkpoint
        print("all handled once:", handled == [e.position for e in store.feed()])

        head = agent.head()
        assert head is not None
        try:  # the answer to this append was lost; the agent retries it safely
            agent.append(b"anything else?", expect_head=head.seq)
            agent.append(b"anything else?", expect_head=head.seq)
        except agentstore.HeadMoved as exc:
            print(f"retry refused: the head is already {exc.actual}")

        user.redact(2, reason="erasure request #77")  # the address is personal data
        for entry in store.stream(STREAM).entries():
            text = "[redacted]" if entry.redacted else entry.payload.decode()
            print(f"{entry.position} {entry.writer}: {text}")
        checked = user.verify()
        print(f"user chain: {checked} entries intact, {checked.redacted} redacted")


if __name__ == "__main__":
    main()
