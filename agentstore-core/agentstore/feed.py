"""Following the commit feed: the catch-up read, then new commits as the doorbell rings.

``Store.follow`` and the async face's ``follow`` share what is here. Events come from the
feed only (never from the doorbell), so their order and the no-late-gaps rule are the
feed's; the doorbell only says when to read it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Final

from agentstore.checks import check_int, check_seconds
from agentstore.doorbell import Doorbell
from agentstore.types import CommitEvent

POLL_SECONDS: Final = 1.0
"""The longest a follower waits without reading the feed: commits whose doorbell does not
ring in this process (another process's, a driver's without one) are seen this late."""

PAGE: Final = 256
"""Events read per feed page while following: a follower holds no cursor open while its
consumer handles an event, and at most this many events in memory."""


def check_follow(after: object, timeout: object) -> tuple[int, float | None]:
    """``follow``'s arguments, checked: ``after`` an int >= 0, ``timeout`` None or > 0."""
    start = check_int(after, "after", 0)
    return start, None if timeout is None else check_seconds(timeout, "timeout")


class Followers:
    """The wake-ups of one store's (or tenant view's) followers: :meth:`close` wakes every
    one of them at once, so a follower waiting for the doorbell reads again, finds the
    store closed, and ends then rather than at its next poll. A view's followers are also
    its store's (``parent``): closing the store wakes them too."""

    __slots__ = ("_closed", "_events", "_lock", "_parent")

    def __init__(self, parent: Followers | None = None) -> None:
        self._lock = threading.Lock()
        self._events: set[threading.Event] = set()
        self._closed = False
        self._parent = parent

    def add(self, wake: threading.Event) -> None:
        with self._lock:
            self._events.add(wake)
            if self._closed:
                wake.set()
        if self._parent is not None:
            self._parent.add(wake)

    def discard(self, wake: threading.Event) -> None:
        with self._lock:
            self._events.discard(wake)
        if self._parent is not None:
            self._parent.discard(wake)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiting = list(self._events)
        for wake in waiting:
            wake.set()


def follow(
    read: Callable[[int, int], Iterator[CommitEvent]],
    doorbell: Doorbell,
    after: int,
    timeout: float | None,
    followers: Followers | None = None,
) -> Iterator[CommitEvent]:
    """The events of ``read(after, limit)`` (a feed read) from ``after`` on, then each new
    one as it commits, until ``timeout`` seconds pass with none (None: forever).

    Waits on ``doorbell`` between reads, and reads at least every :data:`POLL_SECONDS`;
    closing ``followers`` wakes the wait at once (``read`` then raises, the store being
    closed).
    """
    wake = threading.Event()
    sub = doorbell.subscribe(lambda _event: wake.set())
    if followers is not None:
        followers.add(wake)
    try:
        last = after
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wake.clear()  # before the read: a commit during it wakes the next wait
            page = list(read(last, PAGE))
            for event in page:
                yield event
                last = event.position
            if page and timeout is not None:
                deadline = time.monotonic() + timeout
            if len(page) == PAGE:
                continue
            wait = POLL_SECONDS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait = min(wait, left)
            wake.wait(wait)
    finally:
        sub.unsubscribe()
        if followers is not None:
            followers.discard(wake)


__all__ = ["PAGE", "POLL_SECONDS", "Followers", "check_follow", "follow"]
