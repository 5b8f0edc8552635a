"""The audit trail kept as the store's own chained log, on a reserved stream.

A driver with a WriterLogStore serves the ``audit`` capability with
``LogAuditSink(logs)``: entries are appended to :data:`AUDIT_STREAM` by
:data:`AUDIT_WRITER`, so the audit chain is verified as every other log is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from agentstore.capabilities import AuditSink, WriterLogStore
from agentstore.checks import RESERVED_PREFIX
from agentstore.types import AuditEntry, AuditRecord

AUDIT_STREAM: Final = RESERVED_PREFIX + "audit"
"""The stream holding the audit chain; users cannot append to it (it is reserved)."""
AUDIT_WRITER: Final = "audit"
"""The writer of every entry on :data:`AUDIT_STREAM`."""


class LogAuditSink(AuditSink):
    """An AuditSink kept as the store's own WriterLog (stream ``agentstore:audit``)."""

    def __init__(self, logs: WriterLogStore) -> None:
        self._logs = logs

    def _emit(self, entry: AuditEntry) -> AuditRecord:
        e = self._logs._append(AUDIT_STREAM, AUDIT_WRITER, entry.to_json())
        return AuditRecord(e.seq, entry, e.prev_hash, e.content_hash)

    def _records(self, after: int) -> Iterator[AuditRecord]:
        for e in self._logs._entries(AUDIT_STREAM, AUDIT_WRITER, after):
            yield AuditRecord(e.seq, AuditEntry.from_json(e.payload), e.prev_hash, e.content_hash)

    def _verify(self) -> int:
        return self._logs._verify(AUDIT_STREAM, AUDIT_WRITER)

    def _verify_signed(self, trusted: Iterable[Any]) -> int:
        from agentstore.crypto.signing import verify_signed

        return verify_signed(self._logs, AUDIT_STREAM, AUDIT_WRITER, trusted)

    @property
    def log_store(self) -> WriterLogStore:
        """The log store holding the chain (where signed checkpoints of it are kept)."""
        return self._logs


__all__ = ["AUDIT_STREAM", "AUDIT_WRITER", "LogAuditSink"]
