"""Domain types shared by every capability and every driver.

All are immutable, the JSON they hold too (:class:`FrozenDict`, :class:`FrozenList`).
Constructors validate their input and raise :class:`~agentstore.errors.InvalidInput`, so a
value that exists is a value every store accepts and gives back equal.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, NoReturn, Self, TypeAlias

import blake3

from agentstore.errors import InvalidInput

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
"""A value that survives a JSON round trip unchanged."""

HASH_SIZE = 32

MAX_JSON_DEPTH: Final = 64
"""How deeply a JSON value held by a domain value (a policy body, session data, audit
detail) may nest: the object itself is level 1, each array or object inside adds one."""


class FrozenDict(dict[str, JSONValue]):
    """A JSON object that refuses every change.

    It is a ``dict``: it compares equal to one, ``json.dumps`` writes it as one, and
    ``dict(value)`` gives a mutable (shallow) copy. Arrays inside it are :class:`FrozenList`.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only: change a copy (dict(value))")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, JSONValue]]]:
        return FrozenDict, (dict(self),)


class FrozenList(list[JSONValue]):
    """A JSON array that refuses every change; a ``list`` otherwise (see FrozenDict)."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only: change a copy (list(value))")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[JSONValue]]]:
        return FrozenList, (list(self),)


class _Refused(Exception):
    """Where a value stops being JSON: ``path`` is filled in on the way out of the walk."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


def _text(value: str) -> str:
    """``value`` as an exact str if it is valid Unicode text (no lone surrogate)."""
    if type(value) is not str:
        value = str.__str__(value)  # a str subclass (an enum member) is stored as its text
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused("a lone surrogate (not valid Unicode text)") from None
    return value


def _step(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    return f"[{key[:40] + '...' if len(key) > 43 else key!r}]"


def _frozen(value: Any, depth: int) -> Any:
    """A frozen copy of ``value`` if JSON holds it exactly; else raise _Refused."""
    kind = type(value)
    if kind is str:
        return value if value.isascii() else _text(value)
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _Refused(f"{value} is not a JSON number")
    if kind is dict or kind is FrozenDict:
        return _object(value, depth)
    if kind is list or kind is tuple or kind is FrozenList:
        return _array(value, depth)
    if isinstance(value, Mapping):
        return _object(value, depth)
    if isinstance(value, list | tuple):
        return _array(value, depth)
    if isinstance(value, int):
        return int.__index__(value)  # an int subclass (an IntEnum member): its number
    if isinstance(value, float):
        return _frozen(float.__float__(value), depth)
    if isinstance(value, str):
        return _text(value)
    raise _Refused(f"{kind.__name__} is not a JSON type")


def _object(value: Mapping[Any, Any], depth: int) -> FrozenDict:
    if depth >= MAX_JSON_DEPTH:
        raise _Refused(f"nested more than {MAX_JSON_DEPTH} levels deep")
    obj: dict[str, JSONValue] = {}
    for name, item in value.items():
        key = name
        if type(key) is not str:
            if not isinstance(key, str):
                # json.dumps would turn 1, True or None into a string key: the value read
                # back would not be the one given, so refuse them.
                raise _Refused(f"keys must be strings, not {type(key).__name__}")
            key = str.__str__(key)
        kind = type(item)
        # The common leaves inline: this runs on every put, save and emit.
        if key.isascii() and (
            (kind is str and item.isascii()) or kind is int or kind is bool or item is None
        ):
            obj[key] = item
            continue
        try:
            if not key.isascii():
                key = _text(key)
            obj[key] = _frozen(item, depth + 1)
        except _Refused as exc:
            exc.path.append(_step(key))
            raise
    return FrozenDict(obj)


def _array(value: list[Any] | tuple[Any, ...], depth: int) -> FrozenList:
    if depth >= MAX_JSON_DEPTH:
        raise _Refused(f"nested more than {MAX_JSON_DEPTH} levels deep")
    array: list[JSONValue] = []
    for i, item in enumerate(value):
        kind = type(item)
        if (kind is str and item.isascii()) or kind is int or kind is bool or item is None:
            array.append(item)
            continue
        try:
            array.append(_frozen(item, depth + 1))
        except _Refused as exc:
            exc.path.append(_step(i))
            raise
    return FrozenList(array)


def frozen_json(value: object, *, what: str) -> JSONValue:
    """A read-only copy of ``value`` (:class:`FrozenDict`, :class:`FrozenList`) that a JSON
    round trip gives back exactly.

    Raises:
        InvalidInput: naming where in ``value`` it holds something JSON cannot represent
            exactly (NaN or an infinity, a set or another object, a non-string key, a lone
            surrogate) or nests deeper than :data:`MAX_JSON_DEPTH`.
    """
    try:
        frozen: JSONValue = _frozen(value, 0)
    except _Refused as exc:
        path = exc.path[::-1]
        if len(path) > 6:  # keep the message short: the start and the end of the path
            path[3:-2] = [f"[...{len(path) - 5} more...]"]
        raise InvalidInput(f"{what}{''.join(path)}: {exc.problem}") from None
    return frozen


def canonical_json(value: Any, *, what: str) -> bytes:
    """Encode ``value`` as canonical JSON bytes (sorted keys, no spaces, UTF-8).

    Raises:
        InvalidInput: ``value`` holds something JSON cannot represent exactly (see
            :func:`frozen_json`).
    """
    return _dumps(frozen_json(value, what=what))


def _dumps(value: JSONValue) -> bytes:
    """Canonical JSON bytes of a value :func:`frozen_json` accepted."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _json_mapping(value: object, *, what: str) -> FrozenDict:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping, not {type(value).__name__}")
    frozen: FrozenDict = frozen_json(value, what=what)  # type: ignore[assignment]
    return frozen


def _loads(raw: bytes | str, what: str) -> Any:
    """Parse stored JSON text; text that is not JSON raises InvalidInput."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise InvalidInput(f"{what}: nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise InvalidInput(f"{what}: not JSON text ({type(exc).__name__})") from None


class Entry(NamedTuple):
    """One committed entry of a writer's chained log.

    ``content_hash == BLAKE3(prev_hash || payload)``; the genesis entry (``seq == 1``) has
    ``prev_hash is None`` and hashes the payload alone.

    ``position`` is the entry's place in its store's commit feed (``store.feed()``): unique
    within the store and increasing in commit order; 0 when the driver gives no positions
    (a driver written before positions existed). A ``redacted`` entry had its payload
    erased (``log.redact()``): ``payload`` is ``b""`` and ``seq``, ``prev_hash`` and
    ``content_hash`` are the ones it was appended with.
    """

    stream: str
    writer: str
    seq: int
    payload: bytes
    prev_hash: bytes | None
    content_hash: bytes
    position: int = 0
    redacted: bool = False


class CommitEvent(NamedTuple):
    """What the doorbell announces after a commit: where an entry landed and its hash.

    Never the payload: a subscriber that wants it reads the entry back. ``position`` is the
    entry's place in the store's commit feed (0 when the driver gives none), so a
    subscriber that missed events catches up with ``store.feed(after=last_position)``.
    """

    stream: str
    writer: str
    seq: int
    content_hash: bytes
    position: int = 0


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
        return _dumps(self.body)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls(_loads(raw, "PolicyDocument.body"))


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
        if not self.action.isascii():
            try:
                object.__setattr__(self, "action", _text(self.action))
            except _Refused as exc:
                raise InvalidInput(f"AuditEntry.action: {exc.problem}") from None
        if self.agent_id is not None:
            _require(self.agent_id, AgentId, "AuditEntry.agent_id")
        object.__setattr__(self, "detail", _json_mapping(self.detail, what="AuditEntry.detail"))

    def to_json(self) -> bytes:
        """The canonical bytes that are chained and stored."""
        return _dumps(
            {
                "action": self.action,
                "agent_id": None if self.agent_id is None else str(self.agent_id),
                "detail": self.detail,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Self:
        """Read back the bytes :meth:`to_json` wrote; anything else raises InvalidInput."""
        data = _loads(raw, "AuditEntry")
        if not isinstance(data, dict) or "action" not in data:
            raise InvalidInput("AuditEntry: the JSON is not an object with an 'action'")
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
        return _dumps(self.data)


class AgentInfo(NamedTuple):
    """What the lifecycle store knows of a registered agent (times from the store's clock)."""

    agent_id: AgentId
    registered_at: float
    last_heartbeat: float


__all__ = [
    "HASH_SIZE",
    "MAX_JSON_DEPTH",
    "AgentId",
    "AgentInfo",
    "AuditEntry",
    "AuditRecord",
    "CommitEvent",
    "Entry",
    "Fingerprint",
    "FrozenDict",
    "FrozenList",
    "JSONValue",
    "PolicyDocument",
    "SessionId",
    "SessionRecord",
    "canonical_json",
    "frozen_json",
]
