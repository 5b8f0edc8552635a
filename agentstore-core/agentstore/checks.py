"""Argument checks and limits every capability applies before a driver sees a value.

Each ``check_*`` returns the value (normalised where stated) or raises
:class:`~agentstore.errors.InvalidInput`, so bad input stores nothing.
"""

from __future__ import annotations

import math
from typing import Final

from agentstore.errors import InvalidInput
from agentstore.types import MAX_JSON_DEPTH as _MAX_JSON_DEPTH
from agentstore.types import AgentId

MAX_NAME_LENGTH: Final = 255
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024
MAX_SECRET_BYTES: Final = 1024 * 1024
MAX_INT: Final = 2**63 - 1
"""Counters and seqs are signed 64-bit integers in every backend."""
MAX_JSON_DEPTH: Final = _MAX_JSON_DEPTH
"""How deeply the JSON in a PolicyDocument, SessionRecord or AuditEntry may nest (the
object itself is level 1); checked where the value is built."""
RESERVED_PREFIX: Final = "agentstore:"
"""Stream names with this prefix belong to the store itself (the audit chain lives there)."""


def check_name(value: object, what: str) -> str:
    """Return ``value`` if it is a usable name: a non-empty str of at most 255 characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{what} is {len(value)} characters; the limit is {MAX_NAME_LENGTH}")
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"{what} is not valid Unicode text (a lone surrogate)") from None
    return value


def check_stream(value: object) -> str:
    name = check_name(value, "stream")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidInput(f"stream names starting with {RESERVED_PREFIX!r} are reserved")
    return name


def check_payload(value: object, what: str = "payload", limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """Return ``value`` as bytes if it is bytes-like and within ``limit``."""
    if type(value) is not bytes:
        if isinstance(value, bytearray | memoryview):
            value = bytes(value)
        else:
            raise InvalidInput(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} bytes; the limit is {limit}")
    return value


def check_payloads(payloads: object) -> list[bytes]:
    """Every payload of a batch (``append_many``), each checked as :func:`check_payload`.

    Raises:
        InvalidInput: ``payloads`` is not iterable, or is one bytes-like value or a str
            (a batch of one is a list of one), or holds a bad payload.
    """
    if isinstance(payloads, bytes | bytearray | memoryview | str):
        raise InvalidInput(
            f"payloads must be an iterable of payloads, not one {type(payloads).__name__} "
            "(append() takes a single payload)"
        )
    try:
        items = iter(payloads)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidInput(
            f"payloads must be an iterable of payloads, not {type(payloads).__name__}"
        ) from None
    return [check_payload(p, f"payload #{i}") for i, p in enumerate(items)]


def check_int(value: object, what: str, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) in ``minimum .. MAX_INT``."""
    if type(value) is not int:
        raise InvalidInput(f"{what} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, not {value}")
    if value > MAX_INT:
        raise InvalidInput(f"{what} must be at most {MAX_INT} (a signed 64-bit integer)")
    return value


def check_seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"{what} must be a positive, finite number of seconds, not {value}")
    return float(value)


def check_agent(value: object) -> AgentId:
    if not isinstance(value, AgentId):
        raise InvalidInput(f"expected an AgentId, not {type(value).__name__}")
    return value


__all__ = [
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MAX_NAME_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SECRET_BYTES",
    "RESERVED_PREFIX",
    "check_agent",
    "check_int",
    "check_name",
    "check_payload",
    "check_payloads",
    "check_seconds",
    "check_stream",
]
