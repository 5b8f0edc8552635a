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
from collections.abc import Iterable, Iterator
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
from agentstore.errors import InvalidInput, StoreError, native_error
from agentstore.governance import (
    Clock,
    CredentialStore,
    LifecycleStore,
    PolicyStore,
    SessionStore,
)
from agentstore.logstore import WriterLogStore
from agentstore.ratelimit import RateLimitResult, RateLimits
from agentstore.translate import DEBUG, OPS, DriverCall, driver_call, log_call
from agentstore.types import (
    AuditEntry,
    AuditRecord,
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
        with DriverCall("Generation.current", key):
            return self._current(key)

    def bump(self, name: str) -> int:
        """Atomically add one and return the new value (the first bump returns 1)."""
        key = check_name(name, "generation name")
        with DriverCall("Generation.bump", key):
            return self._bump(key)

    def advance_to(self, name: str, value: int) -> int:
        """Move the generation forward to ``value`` and return it.

        Moving to the current value is a no-op.

        Raises:
            NonMonotonicGeneration: ``value`` is below the current value; nothing changes.
        """
        key, target = check_name(name, "generation name"), check_int(value, "value", 0)
        with DriverCall("Generation.advance_to", key):
            return self._advance_to(key, target)

    @abstractmethod
    def _current(self, name: str) -> int: ...

    @abstractmethod
    def _bump(self, name: str) -> int: ...

    @abstractmethod
    def _advance_to(self, name: str, value: int) -> int:
        """Raise NonMonotonicGeneration if ``value`` is below the current value."""


# -- governance stores ---------------------------------------------------------------------


class AuditSink(ABC):
    """Append-only, hash-chained governance audit trail (capability ``audit``).

    Entries are never reordered or rewritten; ``seq`` starts at 1 and is contiguous; the
    chain uses the same hash as a WriterLog over each entry's canonical JSON bytes.
    """

    def emit(self, entry: AuditEntry) -> AuditRecord:
        """Append ``entry`` durably and return it with its place in the chain."""
        if not isinstance(entry, AuditEntry):
            raise InvalidInput(f"expected an AuditEntry, not {type(entry).__name__}")
        with DriverCall("AuditSink.emit", entry.action):
            return self._emit(entry)

    def records(self, after: int = 0) -> Iterator[AuditRecord]:
        """Stored records with ``seq > after``, in order, streamed."""
        start = check_int(after, "after", 0)
        call = DriverCall("AuditSink.records")
        with call:
            return call.stream(self._records(start))

    def verify(self, *, trusted: Iterable[Any] | None = None) -> int:
        """Check the audit chain; return its length. Raises ChainBroken on tampering.

        With ``trusted`` keys, also prove authorship from signed checkpoints, as
        :meth:`WriterLog.verify` does (the chain emitted through ``store.signed_audit``).
        """
        with DriverCall("AuditSink.verify"):
            return self._verify() if trusted is None else self._verify_signed(trusted)

    def _verify_signed(self, trusted: Iterable[Any]) -> int:
        """Verify against signed checkpoints; a sink that keeps its chain on the store's
        log store (:class:`LogAuditSink`) can, others cannot."""
        raise StoreError(
            f"{type(self).__name__} keeps no signed checkpoints: signing needs an audit "
            "chain kept on the store's logs"
        )

    @abstractmethod
    def _emit(self, entry: AuditEntry) -> AuditRecord: ...

    @abstractmethod
    def _records(self, after: int) -> Iterator[AuditRecord]: ...

    @abstractmethod
    def _verify(self) -> int: ...


class RateLimitCounter(RateLimits, ABC):
    """Fixed-window counters for rate limiting (capability ``rate_limits``).

    A key's window opens at its first increment after the previous window expired and lasts
    ``window_secs``; a count from an expired window no longer counts. Increments are atomic:
    concurrent increments from threads (and processes, for a shared backend) are all counted.
    ``hit`` and ``window_stats`` (:mod:`agentstore.ratelimit`) enforce a limit, in a fixed
    or a sliding window, and say when to retry.
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
            total = self._increment(key, amount, window_secs, now)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("RateLimitCounter.increment failed in the driver", exc) from exc
        if OPS.isEnabledFor(DEBUG):
            log_call("RateLimitCounter.increment", key, done=str(total))
        return total

    def current(self, key: str) -> int:
        """The total in the key's current window; 0 if it expired or never started."""
        name = check_name(key, "rate-limit key")
        now = self.clock()
        try:
            total = self._current(name, now)
        except StoreError:
            raise
        except Exception as exc:
            raise native_error("RateLimitCounter.current failed in the driver", exc) from exc
        if OPS.isEnabledFor(DEBUG):
            log_call("RateLimitCounter.current", name, done=str(total))
        return total

    def reset(self, key: str) -> None:
        """Forget the key's window and count (of both ``hit`` strategies). Idempotent."""
        name = check_name(key, "rate-limit key")
        with DriverCall("RateLimitCounter.reset", name):
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
    "RateLimitResult",
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
