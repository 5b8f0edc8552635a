"""Fork safety of the in-process stores: a child starts from a consistent private copy.

``os.fork()`` copies memory as it is at that instant. Around a fork every memory store's
lock is taken, so no change is half-done in the copy and no lock is left held by a thread
that does not exist in the child; both processes release them right after. From then on
the parent and the child each have their own stores: neither sees the other's writes.
"""

from __future__ import annotations

import os
import threading
import weakref

_locks: weakref.WeakSet[threading.Lock] = weakref.WeakSet()
_held: list[threading.Lock] = []
_registry = threading.Lock()  # guards _locks, and is held across the fork with the rest


def fork_safe_lock() -> threading.Lock:
    """A lock that is never held across a fork (the stores hold it only for short,
    callback-free updates, so the fork waits at most for one of them)."""
    lock = threading.Lock()
    with _registry:
        _locks.add(lock)
    return lock


def _before_fork() -> None:
    _registry.acquire()
    for lock in list(_locks):
        lock.acquire()
        _held.append(lock)


def _after_fork() -> None:
    while _held:
        _held.pop().release()
    _registry.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork
    )


__all__ = ["fork_safe_lock"]
