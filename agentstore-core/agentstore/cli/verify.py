"""Verifying every chain of a store, the audit chain included, with a progress bar."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click

from agentstore.capabilities import AUDIT_STREAM, AUDIT_WRITER
from agentstore.errors import ChainBroken
from agentstore.store import Store

PROGRESS_THRESHOLD = 10_000
"""Entries to verify above which a progress bar is drawn (when stderr is a terminal)."""


@dataclass
class ChainResult:
    stream: str
    writer: str
    entries: int | None = None
    broken: ChainBroken | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"stream": self.stream, "writer": self.writer}
        if self.broken is None:
            doc["ok"] = True
            doc["entries"] = self.entries
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
) -> list[ChainResult]:
    """Verify every chain matching the filters, the audit chain included; never raises
    ChainBroken: each broken chain is reported in its result.

    ``progress`` None draws a bar on stderr when it is a terminal and the work is long.
    """
    chains = [
        (s, w)
        for s, w in store.logs()
        if s != AUDIT_STREAM and (stream is None or s == stream) and (writer is None or w == writer)
    ]
    with_audit = (stream is None or stream == AUDIT_STREAM) and writer in (None, AUDIT_WRITER)
    lengths = []
    for s, w in chains:
        head = store.log(s, w).head()
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
                result.entries = store.log(s, w).verify()
            except ChainBroken as exc:
                result.broken = exc
            results.append(result)
            bar.update(n)
    if with_audit:
        audit = ChainResult(AUDIT_STREAM, AUDIT_WRITER)
        try:
            audit.entries = store.audit.verify()
        except ChainBroken as exc:
            audit.broken = exc
        if audit.broken is not None or audit.entries or stream == AUDIT_STREAM:
            results.append(audit)
    return results
