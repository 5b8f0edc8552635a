"""The contract of erasure: ``log.redact(seq, reason=...)`` removes a payload for good and
the chain still verifies through it."""

from __future__ import annotations

from typing import ClassVar

import pytest

from agentstore.capabilities import CapabilityName
from agentstore.conformance.contracts.base import ContractBase
from agentstore.errors import InvalidInput, NotFound
from agentstore.handles import REDACT_ACTION
from agentstore.store import Store
from agentstore.types import AuditRecord

SECRET = b"my card number is 4111 1111 1111 1111"


def redactions(store: Store) -> list[AuditRecord]:
    """The redactions recorded on the store's audit chain (none without one)."""
    if "audit" not in store.routes:
        return []
    return [r for r in store.audit.records() if r.entry.action == REDACT_ACTION]


class ErasureContract(ContractBase):
    """redact: payload gone, entry marked, hashes and position kept, verify passes and
    counts it, the redaction recorded on the audit chain."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def _written(self) -> tuple[Store, list[bytes]]:
        store = self.open_store()
        payloads = [b"hello", SECRET, b"bye"]
        store.log("conv", writer="alice").append_many(payloads)
        return store, payloads

    def test_redact_erases_the_payload_and_keeps_the_hashes(self) -> None:
        store, _ = self._written()
        log = store.log("conv", writer="alice")
        before = list(log.entries())
        erased = log.redact(2, reason="erasure request #12")
        assert erased == before[1]._replace(payload=b"", redacted=True)
        after = list(log.entries())
        assert after == [before[0], erased, before[2]]
        assert all(not e.redacted for e in (after[0], after[2]))
        assert list(store.stream("conv").entries()) == after
        assert log.head() == before[2]

    def test_redact_verify_passes_and_counts_redacted_entries(self) -> None:
        store, _ = self._written()
        log = store.log("conv", writer="alice")
        assert (log.verify(), log.verify().redacted) == (3, 0)
        log.redact(2, reason="gdpr")
        log.redact(1, reason="gdpr")
        checked = log.verify()
        assert checked == 3
        assert checked.redacted == 2

    def test_redact_is_recorded_on_the_audit_chain(self) -> None:
        store, _ = self._written()
        if "audit" not in store.routes:
            pytest.skip("the store has no audit capability")
        store.log("conv", writer="alice").redact(2, reason="erasure request #12")
        (record,) = redactions(store)
        detail = record.entry.detail
        assert detail == {
            "stream": "conv",
            "writer": "alice",
            "seq": 2,
            "reason": "erasure request #12",
        }
        assert SECRET not in record.entry.to_json()
        assert store.audit.verify() >= 1

    def test_redact_twice_changes_and_records_nothing_more(self) -> None:
        store, _ = self._written()
        log = store.log("conv", writer="alice")
        first = log.redact(2, reason="gdpr")
        position = store.position()
        assert log.redact(2, reason="again") == first
        assert store.position() == position
        assert len(redactions(store)) == 1

    def test_redact_absent_raises_not_found(self) -> None:
        store, _ = self._written()
        log = store.log("conv", writer="alice")
        position = store.position()
        with pytest.raises(NotFound):
            log.redact(4, reason="gdpr")
        with pytest.raises(NotFound):
            store.log("conv", writer="nobody").redact(1, reason="gdpr")
        assert store.position() == position
        assert redactions(store) == []

    def test_redact_rejects_bad_input_and_stores_nothing(self) -> None:
        store, payloads = self._written()
        log = store.log("conv", writer="alice")
        for reason in ("", "   ", None, 7, "x" * 1001, "\ud800"):
            with pytest.raises(InvalidInput):
                log.redact(2, reason=reason)  # type: ignore[arg-type]
        for seq in (0, -1, "2", 2.0):
            with pytest.raises(InvalidInput):
                log.redact(seq, reason="gdpr")  # type: ignore[arg-type]
        assert [e.payload for e in log.entries()] == payloads
        assert log.redact(2, reason="x" * 1000).redacted

    def test_redact_then_append_continues_the_chain(self) -> None:
        store, _ = self._written()
        log = store.log("conv", writer="alice")
        erased = log.redact(3, reason="gdpr")  # the head itself
        entry = log.append(b"next")
        assert (entry.seq, entry.prev_hash) == (4, erased.content_hash)
        assert log.append(b"after", expect_head=4).seq == 5
        assert log.verify() == 5
        assert log.verify().redacted == 1

    def test_redact_persists_across_reopen(self) -> None:
        self.require_persistent()
        store, _ = self._written()
        store.log("conv", writer="alice").redact(2, reason="gdpr")
        store.close()
        again = self.open_store()
        log = again.log("conv", writer="alice")
        stored = list(log.entries())
        assert (stored[1].payload, stored[1].redacted) == (b"", True)
        assert all(SECRET not in e.payload for e in stored)
        assert log.verify().redacted == 1


__all__ = ["SECRET", "ErasureContract"]
