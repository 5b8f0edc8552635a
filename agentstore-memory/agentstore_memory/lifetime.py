"""The lifetime the stores of one open share."""

from __future__ import annotations

from agentstore.errors import StoreError


class _Lifetime:
    """Shared by the stores of one open: once closed, every call on any of them (through a
    handle obtained before closing too) raises StoreError. A store constructed on its own
    has a lifetime of its own, never closed."""

    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False

    def check(self) -> None:
        if self.closed:
            raise StoreError(
                "memory store: the store is closed; open it again with agentstore.open()"
            )


__all__ = ["_Lifetime"]
