"""The commit doorbell: fan-out of :class:`~agentstore.types.CommitEvent` to subscribers."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agentstore.errors import InvalidInput
from agentstore.types import CommitEvent

Subscriber = Callable[[CommitEvent], object]


class Subscription:
    """A handle that removes its subscriber; closing twice is harmless."""

    __slots__ = ("_bell", "_fn")

    def __init__(self, bell: Doorbell, fn: Subscriber) -> None:
        self._bell: Doorbell | None = bell
        self._fn = fn

    def unsubscribe(self) -> None:
        """Stop delivering events to this subscriber. Idempotent."""
        bell, self._bell = self._bell, None
        if bell is not None:
            bell._remove(self)

    close = unsubscribe

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unsubscribe()


class Doorbell:
    """Announces committed appends to in-process subscribers.

    Guarantees:
      - :meth:`ring` is called by the store only after an append has committed, never for a
        rolled-back one, exactly once per entry; the entries of one ``append_many``, and the
        appends made by one thread, ring in seq order (appends racing on several threads
        ring on each thread, so across threads a later seq may ring first);
      - subscribers run on the ringing thread with no store lock held, so one may read the
        entry it was told about;
      - a subscriber that raises is logged and skipped: the append still succeeds and the
        other subscribers are still called.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: tuple[Subscription, ...] = ()

    def subscribe(self, fn: Subscriber) -> Subscription:
        """Call ``fn(event)`` after every commit from now on; returns the unsubscribe handle.

        Raises:
            InvalidInput: ``fn`` is not callable (nothing is subscribed).
        """
        if not callable(fn):
            raise InvalidInput(f"a doorbell subscriber must be callable, not {type(fn).__name__}")
        sub = Subscription(self, fn)
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def ring(self, event: CommitEvent) -> None:
        """Deliver ``event`` to every current subscriber."""
        for sub in self._subs:  # an immutable snapshot: subscribing while ringing is safe
            try:
                sub._fn(event)
            except Exception:
                import logging  # deferred: only a failing subscriber needs it

                logging.getLogger("agentstore.doorbell").exception(
                    "doorbell subscriber %r failed for %s/%s seq %d",
                    sub._fn,
                    event.stream,
                    event.writer,
                    event.seq,
                )


__all__ = [
    "Doorbell",
    "Subscriber",
    "Subscription",
]
