"""Domain types shared by every capability and every driver.

All are immutable. Constructors validate their input and raise
:class:`~agentstore.errors.InvalidInput`, so a value that exists is a value a store accepts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Self, TypeAlias

import blake3

from agentstore.errors import InvalidInput

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
"""A value that survives a JSON round trip unchanged."""

HASH_SIZE = 32


def canonical_json(value: Any, *, what: str) -> bytes:
    """Encode ``value`` as canonical JSON bytes (sorted keys, no spaces, UTF-8).

    Raises:
        InvalidInput: ``value`` holds something JSON cannot represent exactly (NaN, a set,
            an object, a non-string key).
    """
    _check_keys(value, what)
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be JSON-serializable: {exc}") from None
    return text.encode("utf-8")


def _check_keys(value: Any, what: str) -> None:
    # json.dumps would turn 1, True or None keys into strings: the stored value would not
    # be the one given (and {1: ..., "1": ...} would lose an entry), so refuse them.
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{what} keys must be strings, not {type(key).__name__}")
            _check_keys(item, what)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_keys(item, what)


def _json_mapping(value: object, *, what: str) -> dict[str, JSONValue]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping, not {type(value).__name__}")
    # A round trip both validates and detaches the stored copy from the caller's object.
    decoded: dict[str, JSONValue] = json.loads(canonical_json(dict(value), what=what))
    return decoded


class Entry(NamedTuple):
    """One committed entry of a writer's chained log.

    ``content_hash == BLAKE3(prev_hash || payload)``; the genesis entry (``seq == 1``) has
    ``prev_hash is None`` and hashes the payload alone.
    """

    stream: str
    writer: str
    seq: int
    payload: bytes
    prev_hash: bytes | None
    content_hash: bytes


class CommitEvent(NamedTuple):
    """What the doorbell announces after a commit: where an entry landed and its hash.

    Never the payload: a subscriber that wants it reads the entry back.
    """

    stream: str
    writer: str
    seq: int
    content_hash: bytes


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A 32-byte writer identity: BLAKE3 of an ed25519 public key."""

    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.digest, bytes) or len(self.digest) != HASH_SIZE:
            raise InvalidInput(f"a fingerprint is exactly {HASH_SIZE} bytes")

    @classmethod
    def of_public_key(cls, public_key: bytes) -> Self:
        """The fingerprint of a raw 32-byte ed25519 public key."""
        if not isinstance(public_key, bytes) or len(public_key) != 32:
            raise InvalidInput("an ed25519 public key is exactly 32 bytes")
        return cls(blake3.blake3(public_key).digest())

    @classmethod
    def from_hex(cls, text: str) -> Self:
        """Parse 64 hexadecimal digits; anything else raises InvalidInput."""
        if not isinstance(text, str) or len(text) != 2 * HASH_SIZE:
            raise InvalidInput(f"a fingerprint is {2 * HASH_SIZE} hexadecimal digits")
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise InvalidInput(f"not a hexadecimal fingerprint: {text!r}") from None

    def hex(self) -> str:
        return self.digest.hex()

    def __str__(self) -> str:
        return self.hex()


def _a(name: str) -> str:
    """``name`` after its article: ``an AgentId``, ``a SessionId``."""
    return f"{'an' if name[:1] in 'AEIOUaeiou' else 'a'} {name}"


@dataclass(frozen=True, slots=True, order=True)
class _UUIDId:
    value: uuid.UUID

    def __post_init__(self) -> None:
        if not isinstance(self.value, uuid.UUID):
            raise InvalidInput(f"{type(self).__name__} wraps a uuid.UUID, not {self.value!r}")

    @classmethod
    def new(cls) -> Self:
        """A fresh random (version 4) identifier."""
        return cls(uuid.uuid4())

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the canonical text form; anything else raises InvalidInput."""
        try:
            return cls(uuid.UUID(text))
        except (TypeError, ValueError, AttributeError):
            raise InvalidInput(f"not {_a(cls.__name__)}: {text!r}") from None

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        """Decode the 16-byte form written by :meth:`to_bytes`."""
        if not isinstance(raw, bytes) or len(raw) != 16:
            raise InvalidInput(f"{_a(cls.__name__)} is 16 bytes")
        return cls(uuid.UUID(bytes=raw))

    def to_bytes(self) -> bytes:
        """The 16-byte form, read back by :meth:`from_bytes`."""
        return self.value.bytes

    def __str__(self) -> str:
        return str(self.value)


class AgentId(_UUIDId):
    """Stable identifier of an agent (UUID-backed)."""

    __slots__ = ()


class SessionId(_UUIDId):
    """Identifier of one agent execution session (UUID-backed)."""

    __slots__ = ()


def _require(value: object, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise InvalidInput(f"{what} must be {_a(kind.__name__)}, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """An agent's effective policy: a JSON object, opaque to the store."""

    body: dict[str, JSONValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", _json_mapping(self.body, what="PolicyDocument.body"))

    def to_json(self) -> bytes:
        return canonical_json(self.body, what="PolicyDocument.body")

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls(json.loads(raw))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One governance event, as emitted to an :class:`~agentstore.AuditSink`.

    Attributes:
        action: what happened (``"policy.update"``); non-empty.
        agent_id: the agent it concerns, if any.
        detail: a JSON object with anything else worth keeping.
    """

    action: str
    agent_id: AgentId | None = None
    detail: dict[str, JSONValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(self.action, str, "AuditEntry.action")
        if not self.action:
            raise InvalidInput("AuditEntry.action must not be empty")
        if self.agent_id is not None:
            _require(self.agent_id, AgentId, "AuditEntry.agent_id")
        object.__setattr__(self, "detail", _json_mapping(self.detail, what="AuditEntry.detail"))

    def to_json(self) -> bytes:
        """The canonical bytes that are chained and stored."""
        return canonical_json(
            {
                "action": self.action,
                "agent_id": None if self.agent_id is None else str(self.agent_id),
                "detail": self.detail,
            },
            what="AuditEntry",
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Self:
        data = json.loads(raw)
        agent = data.get("agent_id")
        return cls(
            action=data["action"],
            agent_id=None if agent is None else AgentId.parse(agent),
            detail=data.get("detail", {}),
        )


class AuditRecord(NamedTuple):
    """An audit entry as stored: its place in the audit chain and its hashes."""

    seq: int
    entry: AuditEntry
    prev_hash: bytes | None
    content_hash: bytes


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A persisted record of one agent execution session."""

    session_id: SessionId
    agent_id: AgentId
    data: dict[str, JSONValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(self.session_id, SessionId, "SessionRecord.session_id")
        _require(self.agent_id, AgentId, "SessionRecord.agent_id")
        object.__setattr__(self, "data", _json_mapping(self.data, what="SessionRecord.data"))

    def data_json(self) -> bytes:
        return canonical_json(self.data, what="SessionRecord.data")


class AgentInfo(NamedTuple):
    """What the lifecycle store knows of a registered agent (times from the store's clock)."""

    agent_id: AgentId
    registered_at: float
    last_heartbeat: float
