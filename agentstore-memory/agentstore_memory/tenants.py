"""Each tenant's own in-memory store, made once per store and tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from agentstore_memory.forksafe import fork_safe_lock

S = TypeVar("S")


class Scopes(Generic[S]):
    """The stores of every tenant of one store: the same tenant always gets the same one,
    so its data outlives the view that wrote it."""

    __slots__ = ("_found", "_lock")

    def __init__(self) -> None:
        self._lock = fork_safe_lock()
        self._found: dict[str, S] = {}

    def get(self, tenant: str, make: Callable[[], S]) -> S:
        with self._lock:
            found = self._found.get(tenant)
            if found is None:
                found = self._found[tenant] = make()
            return found


__all__ = ["Scopes"]
