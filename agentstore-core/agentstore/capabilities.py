"""The eight capabilities of the storage contract.

Each capability is an abstract class. Its public methods are the contract users call: they
validate arguments (raising :class:`~agentstore.errors.InvalidInput` before anything is
stored) and are final. A driver implements the ``_``-prefixed hooks, which receive
arguments already validated. Every method is synchronous and safe to call from several
threads at once; cross-process safety is the driver's promise, declared as
``DriverSpec(cross_process=True)``, and the conformance suite checks it where declared.

Capability names, as written in a policy's ``[store.capabilities]`` table:

=============== ============================================ ==========================
name            interface                                    reached through
=============== ============================================ ==========================
``generations`` :class:`GenerationStore` / :class:`Generation` ``store.generation(name)``
``logs``        :class:`WriterLogStore` / :class:`WriterLog`   ``store.log(stream, writer=)``
``policies``    :class:`PolicyStore`                          ``store.policies``
``audit``       :class:`AuditSink`                            ``store.audit``
``sessions``    :class:`SessionStore`                         ``store.sessions``
``credentials`` :class:`CredentialStore`                      ``store.credentials``
``rate_limits`` :class:`RateLimitCounter`                     ``store.rate_limits``
``lifecycle``   :class:`LifecycleStore`                       ``store.lifecycle``
=============== ============================================ ==========================
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn

from agentstore.checks import (
    MAX_INT,
    MAX_JSON_DEPTH,
    MAX_NAME_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_SECRET_BYTES,
    RESERVED_PREFIX,
    check_int,
    check_name,
    check_payload,
    check_seconds,
    check_stream,
)
from agentstore.checks import check_agent as _check_agent
from agentstore.errors import InvalidInput, NotFound, StoreError, native_error
from agentstore.logstore import WriterLogStore
from agentstore.translate import DriverCall, driver_call
from agentstore.types import (
    AgentId,
    AgentInfo,
    AuditEntry,
    AuditRecord,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

if TYPE_CHECKING:
    # Re-exported lazily (see __getattr__): these modules build on this one.
    from agentstore.audit import AUDIT_STREAM, AUDIT_WRITER, LogAuditSink
    from agentstore.handles import Generation, WriterLog

CapabilityName = Literal[
    "generations",
    "logs",
    "policies",
    "audit",
    "sessions",
    "credentials",
    "rate_limits",
    "lifecycle",
]
CAPABILITIES: Final[tuple[CapabilityName, ...]] = (
    "generations",
    "logs",
    "policies",
    "audit",
    "sessions",
    "credentials",
    "rate_limits",
    "lifecycle",
)

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time``. Used for expiry and liveness, never ordering."""


# -- causal primitives ---------------------------------------------------------------------


class GenerationStore(ABC):
    """Named monotonic counters (capability ``generations``).

    A generation is 0 until first bumped; it only ever moves forward; it is never derived
    from the wall clock. Bumps are atomic: n concurrent bumps from any number of threads
    (and processes, for a shared backend) advance it by exactly n.
    """

    def current(self, name: str) -> int:
        """The current value of generation ``name`` (0 if never bumped)."""
        key = check_name(name, "generation name")
        with DriverCall("Generation.current"):
            return self._current(key)

    def bump(self, name: str) -> int:
        """Atomically add one and return the new value (the first bump returns 1)."""
        key = check_name(name, "generation name")
        with DriverCall("Generation.bump"):
            return self._bump(key)

    def advance_to(self, name: str, value: int) -> int:
        """Move the generation forward to ``value`` and return it.

        Moving to the current value is a no-op.

        Raises:
            NonMonotonicGeneration: ``value`` is below the current value; nothing changes.
        """
        key, target = check_name(name, "generation name"), check_int(value, "value", 0)
        with DriverCall("Generation.advance_to"):
            return self._advance_to(key, target)

    @abstractmethod
    def _current(self, name: str) -> int: ...

    @abstractmethod
    def _bump(self, name: str) -> int: ...

    @abstractmethod
    def _advance_to(self, name: str, value: int) -> int:
        """Raise NonMonotonicGeneration if ``value`` is below the current value."""


# -- governance stores ---------------------------------------------------------------------


class PolicyStore(ABC):
    """Each agent's effective :class:`~agentstore.types.PolicyDocument` (``policies``)."""

    def put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        """Store ``document`` as the agent's policy, replacing any previous one."""
        if not isinstance(document, PolicyDocument):
            raise InvalidInput(f"expected a PolicyDocument, not {type(document).__name__}")
        agent = _check_agent(agent_id)
        with DriverCall("PolicyStore.put"):
            self._put(agent, document)

    def get(self, agent_id: AgentId) -> PolicyDocument:
        """The agent's policy. Raises NotFound if none is stored (or it was invalidated)."""
        agent = _check_agent(agent_id)
        with DriverCall("PolicyStore.get"):
            doc = self._get(agent)
        if doc is None:
            raise NotFound(f"no policy stored for agent {agent_id}")
        return doc

    def invalidate(self, agent_id: AgentId) -> None:
        """Forget the agent's policy. Idempotent: invalidating nothing is not an error."""
        agent = _check_agent(agent_id)
        with DriverCall("PolicyStore.invalidate"):
            self._invalidate(agent)

    @abstractmethod
    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None: ...

    @abstractmethod
    def _get(self, agent_id: AgentId) -> PolicyDocument | None: ...

    @abstractmethod
    def _invalidate(self, agent_id: AgentId) -> None: ...


class AuditSink(ABC):
    """Append-only, hash-chained governance audit trail (capability ``audit``).

    Entries are never reordered or rewritten; ``seq`` starts at 1 and is contiguous; the
    chain uses the same hash as a WriterLog over each entry's canonical JSON bytes.
    """

    def emit(self, entry: AuditEntry) -> AuditRecord:
        """Append ``entry`` durably and return it with its place in the chain."""
        if not isinstance(entry, AuditEntry):
            raise InvalidInput(f"expected an AuditEntry, not {type(entry).__name__}")
        with DriverCall("AuditSink.emit"):
            return self._emit(entry)

    def records(self, after: int = 0) -> Iterator[AuditRecord]:
        """Stored records with ``seq > after``, in order, streamed."""
        start = check_int(after, "after", 0)
        call = DriverCall("AuditSink.records")
        with call:
            return call.stream(self._records(start))

    def verify(self) -> int:
        """Check the audit chain; return its length. Raises ChainBroken on tampering."""
        with DriverCall("AuditSink.verify"):
            return self._verify()

    @abstractmethod
    def _emit(self, entry: AuditEntry) -> AuditRecord: ...

    @abstractmethod
    def _records(self, after: int) -> Iterator[AuditRecord]: ...

    @abstractmethod
    def _verify(self) -> int: ...


class SessionStore(ABC):
    """Per-execution :class:`~agentstore.types.SessionRecord` storage (``sessions``)."""

    def save(self, record: SessionRecord) -> None:
        """Store ``record`` under its session id, overwriting any previous record."""
        if not isinstance(record, SessionRecord):
            raise InvalidInput(f"expected a SessionRecord, not {type(record).__name__}")
        with DriverCall("SessionStore.save"):
            self._save(record)

    def load(self, session_id: SessionId) -> SessionRecord:
        """The stored record. Raises NotFound if there is none."""
        if not isinstance(session_id, SessionId):
            raise InvalidInput(f"expected a SessionId, not {type(session_id).__name__}")
        with DriverCall("SessionStore.load"):
            record = self._load(session_id)
        if record is None:
            raise NotFound(f"no session {session_id}")
        return record

    def delete(self, session_id: SessionId) -> None:
        """Remove the record. Idempotent."""
        if not isinstance(session_id, SessionId):
            raise InvalidInput(f"expected a SessionId, not {type(session_id).__name__}")
        with DriverCall("SessionStore.delete"):
            self._delete(session_id)

    @abstractmethod
    def _save(self, record: SessionRecord) -> None: ...

    @abstractmethod
    def _load(self, session_id: SessionId) -> SessionRecord | None: ...

    @abstractmethod
    def _delete(self, session_id: SessionId) -> None: ...


class CredentialStore(ABC):
    """Named secret material as opaque bytes (capability ``credentials``).

    A secret value never appears in a repr, a log line or an error message raised by the
    store; only its name may.
    """

    def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, overwriting any previous value."""
        key = check_name(name, "secret name")
        if not isinstance(value, bytes | bytearray | memoryview):
            # Name the type only: the value itself may be the secret.
            raise InvalidInput(f"a secret value must be bytes, not {type(value).__name__}")
        checked = check_payload(value, f"secret {key!r}", MAX_SECRET_BYTES)
        with DriverCall("CredentialStore.put_secret"):
            self._put_secret(key, checked)

    def get_secret(self, name: str) -> bytes:
        """The stored value. Raises NotFound (naming only ``name``) if absent."""
        key = check_name(name, "secret name")
        with DriverCall("CredentialStore.get_secret"):
            value = self._get_secret(key)
        if value is None:
            raise NotFound(f"no secret named {key!r}")
        return value

    def delete_secret(self, name: str) -> None:
        """Remove the secret. Idempotent."""
        key = check_name(name, "secret name")
        with DriverCall("CredentialStore.delete_secret"):
            self._delete_secret(key)

    @abstractmethod
    def _put_secret(self, name: str, value: bytes) -> None: ...

    @abstractmethod
    def _get_secret(self, name: str) -> bytes | None: ...

    @abstractmethod
    def _delete_secret(self, name: str) -> None: ...


class RateLimitCounter(ABC):
    """Fixed-window counters for rate limiting (capability ``rate_limits``).

    A key's window opens at its first increment after the previous window expired and lasts
    ``window_secs``; a count from an expired window no longer counts. Increments are atomic:
    concurrent increments from threads (and processes, for a shared backend) are all counted.
    """

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    def increment(self, key: str, amount: int = 1, window_secs: float = 60.0) -> int:
        """Add ``amount`` (>= 1) to ``key`` and return the total in the current window.

        Raises:
            InvalidInput: a bad argument, or a total that would pass ``MAX_INT`` (2**63-1);
                the stored count is unchanged.
        """
        # The common case is checked inline: this is a per-request hot path.
        if not (
            type(key) is str
            and key.isascii()
            and 0 < len(key) <= MAX_NAME_LENGTH
            and "\x00" not in key
        ):
            key = check_name(key, "rate-limit key")
        if not (type(amount) is int and 1 <= amount <= MAX_INT):
            amount = check_int(amount, "amount", 1)
        if type(window_secs) is not float or not 0.0 < window_secs < math.inf:
            window_secs = check_seconds(window_secs, "window_secs")
        now = self.clock()
        try:
            return self._increment(key, amount, window_secs, now)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("RateLimitCounter.increment failed in the driver", exc) from exc

    def current(self, key: str) -> int:
        """The total in the key's current window; 0 if it expired or never started."""
        name = check_name(key, "rate-limit key")
        now = self.clock()
        try:
            return self._current(name, now)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("RateLimitCounter.current failed in the driver", exc) from exc

    def reset(self, key: str) -> None:
        """Forget the key's window and count. Idempotent."""
        name = check_name(key, "rate-limit key")
        with DriverCall("RateLimitCounter.reset"):
            self._reset(name)

    @abstractmethod
    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        """Add atomically; call :meth:`_refuse_total`, changing nothing, when the window's
        total would pass ``MAX_INT``."""

    def _refuse_total(self, key: str, amount: int) -> NoReturn:
        """Raise the error every driver raises for a total past ``MAX_INT``."""
        raise InvalidInput(
            f"rate-limit key {key!r}: adding {amount} would take its total past {MAX_INT} "
            "(a signed 64-bit integer); the count is unchanged"
        )

    @abstractmethod
    def _current(self, key: str, now: float) -> int: ...

    @abstractmethod
    def _reset(self, key: str) -> None: ...


class LifecycleStore(ABC):
    """Agent liveness bookkeeping (capability ``lifecycle``). Times come from ``clock``."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    def register(self, agent_id: AgentId) -> None:
        """Record the agent as registered and alive now. Registering again refreshes it."""
        agent = _check_agent(agent_id)
        now = self.clock()
        with DriverCall("LifecycleStore.register"):
            self._register(agent, now)

    def heartbeat(self, agent_id: AgentId) -> None:
        """Mark a registered agent alive now. Raises NotFound unless it is registered."""
        agent = _check_agent(agent_id)
        now = self.clock()
        with DriverCall("LifecycleStore.heartbeat"):
            alive = self._heartbeat(agent, now)
        if not alive:
            raise NotFound(f"agent {agent_id} is not registered")

    def deregister(self, agent_id: AgentId) -> None:
        """Forget the agent. Idempotent."""
        agent = _check_agent(agent_id)
        with DriverCall("LifecycleStore.deregister"):
            self._deregister(agent)

    def info(self, agent_id: AgentId) -> AgentInfo:
        """What is known of a registered agent. Raises NotFound unless it is registered."""
        agent = _check_agent(agent_id)
        with DriverCall("LifecycleStore.info"):
            found = self._info(agent)
        if found is None:
            raise NotFound(f"agent {agent_id} is not registered")
        return found

    def live(self, ttl_secs: float) -> list[AgentId]:
        """Registered agents whose last heartbeat (or registration) is within ``ttl_secs``.

        Sorted by id. An agent exactly ``ttl_secs`` old still counts as live.
        """
        cutoff = self.clock() - check_seconds(ttl_secs, "ttl_secs")
        with DriverCall("LifecycleStore.live"):
            return sorted(self._live_since(cutoff))

    @abstractmethod
    def _register(self, agent_id: AgentId, now: float) -> None: ...

    @abstractmethod
    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        """Return False when the agent is not registered."""

    @abstractmethod
    def _deregister(self, agent_id: AgentId) -> None: ...

    @abstractmethod
    def _info(self, agent_id: AgentId) -> AgentInfo | None: ...

    @abstractmethod
    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        """Agents whose last heartbeat is at or after ``cutoff``."""


# Names that lived here before the split; modules built on the contract define them, so
# they are looked up on first use rather than imported (which would be a cycle).
_MOVED: Final = {
    "AUDIT_STREAM": "agentstore.audit",
    "AUDIT_WRITER": "agentstore.audit",
    "LogAuditSink": "agentstore.audit",
    "Generation": "agentstore.handles",
    "WriterLog": "agentstore.handles",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AUDIT_STREAM",
    "AUDIT_WRITER",
    "CAPABILITIES",
    "MAX_INT",
    "MAX_JSON_DEPTH",
    "MAX_NAME_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SECRET_BYTES",
    "RESERVED_PREFIX",
    "AuditSink",
    "CapabilityName",
    "Clock",
    "CredentialStore",
    "DriverCall",
    "Generation",
    "GenerationStore",
    "LifecycleStore",
    "LogAuditSink",
    "PolicyStore",
    "RateLimitCounter",
    "SessionStore",
    "WriterLog",
    "WriterLogStore",
    "check_int",
    "check_name",
    "check_payload",
    "check_seconds",
    "check_stream",
    "driver_call",
]
