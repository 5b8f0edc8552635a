"""Driver failures turned into StoreErrors, so a caller never sees a native exception; and
the DEBUG line each call leaves on the ``agentstore.ops`` logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import TracebackType
from typing import Final, TypeVar

from agentstore.errors import StoreError, native_error

T = TypeVar("T")

OPS: Final = logging.getLogger("agentstore.ops")
"""One DEBUG line per call through the public API: the call, what it names (a stream and
writer, an agent, a key, a secret's name; never a payload or a secret's value) and how it
ended. Silence it alone with ``logging.getLogger("agentstore.ops").setLevel(logging.INFO)``."""
DEBUG: Final = logging.DEBUG


_STREAMING: Final = object()


class DriverCall:
    """A context manager that turns an exception a driver hook raises into a StoreError (the
    original as its cause): ``with DriverCall("WriterLog.head", subject): ...``.

    The message names the call and the native type, not the native text: that text may
    hold a password or a credential. A StoreError the driver raised passes unchanged.
    With DEBUG enabled on :data:`OPS` it logs the call, ``subject`` (what the call names,
    never a payload or a secret value) and the error type if it failed.
    """

    __slots__ = ("op", "subject")

    def __init__(self, op: str, subject: object = None) -> None:
        self.op = op
        self.subject = subject

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if OPS.isEnabledFor(DEBUG) and self.subject is not _STREAMING:
            log_call(self.op, self.subject, exc)
        if exc is None or isinstance(exc, StoreError) or not isinstance(exc, Exception):
            return
        raise native_error(f"{self.op} failed in the driver", exc) from exc

    def stream(self, items: Iterator[T]) -> Iterator[T]:
        """``items``, with errors raised while iterating translated too; the DEBUG line is
        left when the iteration ends (``with`` this call around ``stream`` logs nothing)."""
        subject, self.subject = self.subject, _STREAMING
        return self._stream(items, subject)

    def _stream(self, items: Iterator[T], subject: object) -> Iterator[T]:
        with DriverCall(self.op, subject):
            yield from items


def log_call(op: str, subject: object, exc: BaseException | None = None, done: str = "") -> None:
    """The DEBUG line of one call (callers check ``OPS.isEnabledFor(DEBUG)`` first)."""
    if subject is None:
        named = ""
    elif isinstance(subject, tuple):  # a stream and a writer
        named = "".join(f" {part!r}" for part in subject)
    else:
        named = f" {subject!r}" if isinstance(subject, str) else f" {subject}"
    if exc is None:
        OPS.debug("%s%s%s", op, named, f": {done}" if done else "")
    else:
        OPS.debug("%s%s: failed (%s)", op, named, type(exc).__name__)


driver_call = DriverCall
"""The name :class:`DriverCall` had before it moved here; kept for drivers that use it."""

__all__ = ["DEBUG", "OPS", "DriverCall", "driver_call", "log_call"]
