"""What a driver tells the conformance suite about itself, and the suite's fake clock.

A driver builds its :class:`ConformanceSupport` in a module of its own, named by
``DriverSpec.conformance`` and imported only by the conformance suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from agentstore.audit import AUDIT_STREAM, AUDIT_WRITER, LogAuditSink
from agentstore.errors import ConfigError
from agentstore.spec import DriverSpec, load_dotted
from agentstore.store import Store
from agentstore.types import Entry

Section: TypeAlias = Mapping[str, Any]
FreshSection: TypeAlias = Callable[[Section, Path], Section | Iterator[Section]]
Tamper: TypeAlias = Callable[[Store, str, str, int, Entry | None], None]

EPOCH = 1_700_000_000.0
"""Where every :class:`FakeClock` starts: a plausible wall-clock time, exact as a float."""


@dataclass(frozen=True)
class ConformanceSupport:
    """How the conformance suite drives one driver. Every field has a safe default.

    Attributes:
        persistent: a store opened again from the same policy (after the first is closed,
            or while it is still open) sees what the first one wrote. The persistence and
            sharing tests run only for a persistent driver.
        fresh_section: used by ``pytest --agentstore-driver NAME`` only. Called once per
            test as ``fresh_section(section, tmp_path)`` with the driver's section as
            written (``{}`` when there is none; ``{ env = "NAME" }`` references left
            unresolved); returns the section of a fresh, empty store, or is a generator
            that yields it and cleans up after the ``yield`` (drop a schema). Required
            for a persistent driver; without it every test uses the section unchanged,
            which suits only a driver whose every open starts empty (``memory``).
        tamper: ``tamper(store, stream, writer, seq, entry)`` makes the stored entry at
            ``seq`` hold ``entry``'s payload and hashes (``entry.seq == seq``), or deletes
            it when ``entry`` is None, bypassing every check: the tamper-detection tests
            use it. The audit chain is reached as stream ``agentstore:audit``, writer
            ``audit``. Raise NotImplementedError for a chain it cannot reach, and
            :class:`TamperRefused` when the database itself refuses the edit (a CHECK
            constraint): the tests then require the chain to verify unchanged. A driver
            whose log store has a ``tamper(stream, writer, seq, entry)`` method passes
            :func:`tamper_via_log_store`. Without a hook (or when it raises
            NotImplementedError) the tamper tests fail for a persistent driver whose
            DriverSpec declares tamper-evident logs (``tamper_evident``, the default):
            it must let the suite check that claim. They skip otherwise. (A log store's
            ``tamper`` method found without this hook is still used, with a
            DeprecationWarning.)

    What the driver guarantees, as opposed to how to test it, is declared on its
    :class:`~agentstore.driver.DriverSpec` (``tamper_evident``, ``cross_process``), where
    ``agentstore drivers`` shows it without importing this module.
    """

    persistent: bool = True
    fresh_section: FreshSection | None = None
    tamper: Tamper | None = None


def tamper_via_log_store(
    store: Store, stream: str, writer: str, seq: int, entry: Entry | None
) -> None:
    """A ready-made ``ConformanceSupport.tamper`` for a driver whose log store has a method
    ``tamper(stream, writer, seq, entry)`` doing the edit (``MemoryLogStore.tamper``,
    ``SqlLogStore.tamper``): it calls that method on the log store holding the chain (for
    the audit chain, the one under its :class:`~agentstore.audit.LogAuditSink`).

    Raises:
        NotImplementedError: that log store has no ``tamper`` method.
    """
    method = getattr(log_store_of(store, stream, writer), "tamper", None)
    if not callable(method):
        raise NotImplementedError("the log store holding this chain has no tamper() method")
    method(stream, writer, seq, entry)


def log_store_of(store: Store, stream: str, writer: str) -> object:
    """The driver object holding chain ``(stream, writer)``: the audit sink's log store for
    the audit chain, else the store's ``logs`` capability (None when there is none)."""
    if (stream, writer) == (AUDIT_STREAM, AUDIT_WRITER):
        audit = store.capability("audit")
        return audit._logs if isinstance(audit, LogAuditSink) else None
    return store.capability("logs")


class TamperRefused(Exception):
    """Raised by a tamper hook when the database itself refuses the edit.

    The tamper-detection tests count a refused edit as prevented, and then require the
    untouched chain to verify in full.
    """


DEFAULT_SUPPORT = ConformanceSupport()


def load_support(spec: DriverSpec) -> ConformanceSupport:
    """The :class:`ConformanceSupport` a driver names in ``DriverSpec.conformance``.

    Raises:
        ConfigError: the dotted path cannot be imported or names something else.
    """
    target = spec.conformance
    if target is None:
        return DEFAULT_SUPPORT
    found = load_dotted(target, f"driver {spec.name!r} names conformance support {target!r}, which")
    if not isinstance(found, ConformanceSupport):
        raise ConfigError(
            f"driver {spec.name!r} names conformance support {target!r}, which is a "
            f"{type(found).__name__}, not an agentstore.conformance.ConformanceSupport"
        )
    return found


class FakeClock:
    """A settable clock for ``agentstore.open(policy, clock=...)``; thread-safe.

    Starts at :data:`EPOCH` and moves only when told to.
    """

    def __init__(self, start: float = EPOCH) -> None:
        self._lock = threading.Lock()
        self._now = float(start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError("a FakeClock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now`` (tests of clock skew may move it back)."""
        with self._lock:
            self._now = float(now)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"


__all__ = [
    "EPOCH",
    "ConformanceSupport",
    "FakeClock",
    "FreshSection",
    "Section",
    "Tamper",
    "TamperRefused",
    "load_support",
    "log_store_of",
    "tamper_via_log_store",
]
