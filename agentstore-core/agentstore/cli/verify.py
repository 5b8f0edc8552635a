"""Verifying every chain of a store, the audit chain included, with a progress bar."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

import click

from agentstore.audit import AUDIT_STREAM, AUDIT_WRITER
from agentstore.capabilities import WriterLogStore
from agentstore.checks import RESERVED_PREFIX
from agentstore.cli.errors import CliError
from agentstore.errors import ChainBroken, InvalidInput
from agentstore.store import Store
from agentstore.tenancy.names import tenant_of
from agentstore.translate import DriverCall
from agentstore.types import Fingerprint

if TYPE_CHECKING:
    from agentstore.crypto.signing import TrustList

PROGRESS_THRESHOLD = 10_000
"""Entries to verify above which a progress bar is drawn (when stderr is a terminal)."""


@dataclass
class ChainResult:
    stream: str
    writer: str
    entries: int | None = None
    broken: ChainBroken | None = None

    @property
    def redacted(self) -> int:
        """How many of the chain's entries are redacted (their payload erased)."""
        return int(getattr(self.entries, "redacted", 0))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"stream": self.stream, "writer": self.writer}
        if self.broken is None:
            doc["ok"] = True
            doc["entries"] = self.entries
            if self.redacted:
                doc["redacted"] = self.redacted
        else:
            doc["ok"] = False
            doc["seq"] = self.broken.seq
            doc["detail"] = self.broken.detail
        return doc


def verify_store(
    store: Store,
    stream: str | None = None,
    writer: str | None = None,
    *,
    progress: bool | None = None,
    trust: TrustList | None = None,
) -> list[ChainResult]:
    """Verify every chain matching the filters, the audit chain included; never raises
    ChainBroken: each broken chain is reported in its result.

    With ``trust``, every chain but the checkpoint logs themselves must also be covered
    by a signature of a key trusted for its writer. ``progress`` None draws a bar on
    stderr when it is a terminal and the work is long.
    """
    logs = cast(WriterLogStore, store.capability("logs"))
    chains = [
        (s, w)
        for s, w in store.logs()
        if s != AUDIT_STREAM and (stream is None or s == stream) and (writer is None or w == writer)
    ]
    with_audit = (stream is None or stream == AUDIT_STREAM) and writer in (None, AUDIT_WRITER)
    lengths = []
    for s, w in chains:
        with DriverCall("WriterLog.head"):
            head = logs._head(s, w)
        lengths.append(0 if head is None else head.seq)
    total = sum(lengths)
    if progress is None:
        progress = total >= PROGRESS_THRESHOLD and sys.stderr.isatty()
    results: list[ChainResult] = []
    with click.progressbar(
        length=max(total, 1),
        label="verifying",
        file=sys.stderr,
        hidden=not progress,
        show_pos=True,
    ) as bar:
        for (s, w), n in zip(chains, lengths, strict=True):
            result = ChainResult(s, w)
            try:
                result.entries = _verify_chain(store, logs, s, w, trust)
            except ChainBroken as exc:
                result.broken = exc
            results.append(result)
            bar.update(n)
    if with_audit:
        audit = ChainResult(AUDIT_STREAM, AUDIT_WRITER)
        try:
            audit.entries = store.audit.verify()
            if trust is not None and audit.entries:
                keys = _keys(trust, AUDIT_STREAM, AUDIT_WRITER)
                audit.entries = store.audit.verify(trusted=keys)
        except ChainBroken as exc:
            audit.broken = exc
        if audit.broken is not None or audit.entries or stream == AUDIT_STREAM:
            results.append(audit)
    return results


def read_trust(path: Path) -> TrustList:
    """The trust file at ``path``; a usage error (exit 2) naming its bad line otherwise."""
    from agentstore.crypto.signing import TrustList

    try:
        return TrustList.parse(path.read_text(encoding="utf-8"), str(path))
    except InvalidInput as exc:
        raise CliError(exc.message) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read trust file {path}: {type(exc).__name__}") from None


def _keys(trust: TrustList, stream: str, writer: str) -> list[Fingerprint]:
    keys = trust.for_writer(writer)
    if not keys:
        raise ChainBroken(stream, writer, 1, f"the trust file lists no key for writer {writer!r}")
    return keys


def _verify_chain(
    store: Store, logs: WriterLogStore, stream: str, writer: str, trust: TrustList | None
) -> int:
    owner = tenant_of(stream)
    if owner is not None and not owner[1].startswith(RESERVED_PREFIX):
        # A tenant's stream: verified (and signed) as that tenant wrote it.
        tenant, local = owner
        keys = None if trust is None else _keys(trust, stream, writer)
        return store.tenant(tenant).log(local, writer).verify(trusted=keys)
    if stream.startswith(RESERVED_PREFIX):
        # The store's own logs (signed checkpoints): chains like any other, never signed.
        with DriverCall("WriterLog.verify"):
            return logs._verify(stream, writer)
    keys = None if trust is None else _keys(trust, stream, writer)
    return store.log(stream, writer).verify(trusted=keys)


class Interrupted(CliError):
    """Ctrl-C (SIGINT) stopped the command: one line, exit 130."""

    exit_code = 128 + signal.SIGINT

    def __init__(self, what: str = "interrupted") -> None:
        super().__init__(f"{what}; the verify did not finish")


class Terminated(Interrupted):
    """SIGTERM stopped the command: one line, exit 143."""

    exit_code = 128 + signal.SIGTERM

    def __init__(self) -> None:
        super().__init__("terminated")


class _Stopped(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Turn SIGINT (Ctrl-C) and SIGTERM into :class:`Interrupted` (exit 130) and
    :class:`Terminated` (exit 143).

    The signal unwinds the block as an exception, so every clean-up inside it runs
    (worker processes killed and reaped, temporary folders removed) before the command
    exits; a second signal while that runs is ignored. A signal the process was started
    ignoring (``nohup``, a background job) stays ignored. Outside the main thread, where
    Python cannot handle signals, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping:
            stopping.append(signum)
            raise _Stopped(signum)

    previous = {
        sig: signal.signal(sig, stop)
        for sig in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield
    except _Stopped as exc:
        raise (Terminated() if exc.signum == signal.SIGTERM else Interrupted()) from None
    except KeyboardInterrupt:  # raised before our handler was in place, or re-raised
        raise Interrupted() from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = [
    "PROGRESS_THRESHOLD",
    "ChainResult",
    "Interrupted",
    "Terminated",
    "stopped_by_signals",
    "verify_store",
]
