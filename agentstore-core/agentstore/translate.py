"""Driver failures turned into StoreErrors, so a caller never sees a native exception."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import TypeVar

from agentstore.errors import StoreError, native_error

T = TypeVar("T")


class DriverCall:
    """A context manager that turns an exception a driver hook raises into a StoreError (the
    original as its cause): ``with DriverCall("WriterLog.head"): ...``.

    The message names the call and the native type, not the native text: that text may
    hold a password or a credential. A StoreError the driver raised passes unchanged.
    """

    __slots__ = ("op",)

    def __init__(self, op: str) -> None:
        self.op = op

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, StoreError) or not isinstance(exc, Exception):
            return
        raise native_error(f"{self.op} failed in the driver", exc) from exc

    def stream(self, items: Iterator[T]) -> Iterator[T]:
        """``items``, with errors raised while iterating translated too."""
        with self:
            yield from items


driver_call = DriverCall
"""The name :class:`DriverCall` had before it moved here; kept for drivers that use it."""

__all__ = ["DriverCall", "driver_call"]
