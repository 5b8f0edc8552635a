"""The contracts of the policy, audit, session and credential stores."""

from __future__ import annotations

import logging
import uuid
from typing import ClassVar

import pytest

from agentstore.capabilities import (
    AUDIT_STREAM,
    AUDIT_WRITER,
    MAX_NAME_LENGTH,
    MAX_SECRET_BYTES,
    CapabilityName,
)
from agentstore.conformance.contracts.base import (
    THREADS,
    ContractBase,
    b3,
    run_threads,
)
from agentstore.conformance.contracts.values import (
    BAD_JSON_VALUES,
    deepest_value,
    json_value,
    try_to_change,
)
from agentstore.errors import (
    ChainBroken,
    InvalidInput,
    NotFound,
)
from agentstore.types import (
    AgentId,
    AuditEntry,
    AuditRecord,
    Entry,
    PolicyDocument,
    SessionId,
    SessionRecord,
)


class PolicyStoreContract(ContractBase):
    """PolicyStore: put overwrites, get raises NotFound when absent, invalidate idempotent."""

    capability: ClassVar[CapabilityName | None] = "policies"

    DOC: ClassVar[dict[str, object]] = {
        "allow": ["read", "write"],
        "limits": {"tokens": 1000, "ratio": 0.25, "strict": True, "note": None},
        "name": "naïve ☃",
    }

    def test_policy_get_absent_raises_not_found(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        with pytest.raises(NotFound) as info:
            store.policies.get(agent)
        assert str(agent) in str(info.value)
        assert isinstance(info.value, KeyError)

    def test_policy_put_then_get(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        doc = PolicyDocument(self.DOC)  # type: ignore[arg-type]
        store.policies.put(agent, doc)
        got = store.policies.get(agent)
        assert got == doc
        assert got.body == self.DOC

    def test_policy_put_overwrites(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.put(agent, PolicyDocument({"v": 1}))
        store.policies.put(agent, PolicyDocument({"v": 2}))
        assert store.policies.get(agent) == PolicyDocument({"v": 2})

    def test_policy_agents_are_independent(self) -> None:
        store = self.open_store()
        a, b = AgentId.new(), AgentId.new()
        store.policies.put(a, PolicyDocument({"who": "a"}))
        store.policies.put(b, PolicyDocument({"who": "b"}))
        store.policies.invalidate(a)
        assert store.policies.get(b) == PolicyDocument({"who": "b"})
        with pytest.raises(NotFound):
            store.policies.get(a)

    def test_policy_invalidate_is_idempotent(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.invalidate(agent)  # never stored: not an error
        store.policies.put(agent, PolicyDocument({"v": 1}))
        store.policies.invalidate(agent)
        store.policies.invalidate(agent)
        with pytest.raises(NotFound):
            store.policies.get(agent)
        store.policies.put(agent, PolicyDocument({"v": 3}))
        assert store.policies.get(agent) == PolicyDocument({"v": 3})

    def test_policy_empty_document(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.put(agent, PolicyDocument())
        assert store.policies.get(agent) == PolicyDocument({})

    @pytest.mark.parametrize("bad", ["not an agent", None, uuid.uuid4(), SessionId.new()])
    def test_policy_rejects_bad_agent_ids(self, bad: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.policies.put(bad, PolicyDocument({"v": 1}))  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.policies.get(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.policies.invalidate(bad)  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", [{"v": 1}, None, b"{}", "{}"])
    def test_policy_rejects_non_documents_and_stores_nothing(self, bad: object) -> None:
        store = self.open_store()
        agent = AgentId.new()
        with pytest.raises(InvalidInput):
            store.policies.put(agent, bad)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            store.policies.get(agent)

    def test_policy_values_are_detached_and_frozen(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        given = json_value()
        store.policies.put(agent, PolicyDocument(given))
        try_to_change(given)
        try_to_change(store.policies.get(agent).body)
        assert store.policies.get(agent).body == json_value()

    def test_policy_deepest_value_round_trips(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        store.policies.put(agent, PolicyDocument(deepest_value()))
        assert store.policies.get(agent).body == deepest_value()

    @pytest.mark.parametrize("bad", BAD_JSON_VALUES)
    def test_policy_refuses_values_json_cannot_hold(self, bad: object) -> None:
        store = self.open_store()
        agent = AgentId.new()
        with pytest.raises(InvalidInput, match=r"PolicyDocument\.body\['v'\]"):
            store.policies.put(agent, PolicyDocument({"v": bad}))  # type: ignore[dict-item]
        with pytest.raises(NotFound):
            store.policies.get(agent)

    def test_policy_persists_across_reopen(self) -> None:
        self.require_persistent()
        agent = AgentId.new()
        first = self.open_store()
        first.policies.put(agent, PolicyDocument({"v": 1}))
        first.close()
        assert self.open_store().policies.get(agent) == PolicyDocument({"v": 1})


class AuditSinkContract(ContractBase):
    """AuditSink: append-only, hash-chained over each entry's canonical JSON, verifiable."""

    capability: ClassVar[CapabilityName | None] = "audit"

    def test_audit_empty(self) -> None:
        store = self.open_store()
        assert list(store.audit.records()) == []
        assert store.audit.verify() == 0

    def test_audit_emit_chains(self) -> None:
        store = self.open_store()
        agent = AgentId.new()
        first = AuditEntry("policy.update", agent, {"version": 2})
        second = AuditEntry("session.start")
        r1 = store.audit.emit(first)
        r2 = store.audit.emit(second)
        h1 = b3(first.to_json())
        assert r1 == AuditRecord(1, first, None, h1)
        assert r2 == AuditRecord(2, second, h1, b3(h1 + second.to_json()))
        assert list(store.audit.records()) == [r1, r2]
        assert list(store.audit.records(after=1)) == [r2]
        assert list(store.audit.records(after=2)) == []
        assert store.audit.verify() == 2

    def test_audit_entries_round_trip(self) -> None:
        store = self.open_store()
        entry = AuditEntry(
            "credential.rotate", AgentId.new(), {"names": ["a", "ü"], "n": 3, "ok": False}
        )
        store.audit.emit(entry)
        (record,) = store.audit.records()
        assert record.entry == entry
        assert record.entry.agent_id == entry.agent_id

    def test_audit_records_is_an_iterator(self) -> None:
        store = self.open_store()
        store.audit.emit(AuditEntry("a"))
        it = store.audit.records()
        assert iter(it) is it
        assert next(it).seq == 1

    @pytest.mark.parametrize("entry", ["text", {"action": "x"}, None, b"x"])
    def test_audit_rejects_bad_input_and_stores_nothing(self, entry: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.audit.emit(entry)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.audit.records(after=-1)
        assert list(store.audit.records()) == []
        assert store.audit.emit(AuditEntry("ok")).seq == 1

    def test_audit_refuses_a_lone_surrogate_and_stores_nothing(self) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput, match="surrogate"):
            store.audit.emit(AuditEntry("a\ud800"))
        with pytest.raises(InvalidInput, match="surrogate"):
            store.audit.emit(AuditEntry("a", detail={"k": ["\udfff"]}))
        assert list(store.audit.records()) == []

    def test_audit_values_are_detached_and_frozen(self) -> None:
        store = self.open_store()
        given = json_value()
        record = store.audit.emit(AuditEntry("a", detail=given))
        try_to_change(given)
        try_to_change(record.entry.detail)
        try_to_change(next(store.audit.records()).entry.detail)
        (stored,) = store.audit.records()
        assert stored.entry == AuditEntry("a", detail=json_value())
        assert store.audit.verify() == 1

    def test_audit_concurrent_emits_are_contiguous(self) -> None:
        store = self.open_store()
        per_thread = 10
        results = run_threads(
            THREADS,
            lambda i: [
                store.audit.emit(AuditEntry("race", detail={"t": i, "n": n}))
                for n in range(per_thread)
            ],
        )
        n = THREADS * per_thread
        assert sorted(r.seq for rs in results for r in rs) == list(range(1, n + 1))
        stored = list(store.audit.records())
        assert [r.seq for r in stored] == list(range(1, n + 1))
        assert store.audit.verify() == n

    def test_audit_tamper_edited_entry(self) -> None:
        store = self.open_store()
        records = [store.audit.emit(AuditEntry("a", detail={"n": n})) for n in range(3)]
        forged = AuditEntry("a", detail={"n": 99}).to_json()
        r = records[1]
        entry = Entry(AUDIT_STREAM, AUDIT_WRITER, 2, forged, r.prev_hash, r.content_hash)
        self.tamper(store, AUDIT_STREAM, AUDIT_WRITER, 2, entry)
        with pytest.raises(ChainBroken) as info:
            store.audit.verify()
        assert info.value.seq == 2

    def test_audit_tamper_deleted_entry(self) -> None:
        store = self.open_store()
        for n in range(3):
            store.audit.emit(AuditEntry("a", detail={"n": n}))
        self.tamper(store, AUDIT_STREAM, AUDIT_WRITER, 2, None)
        with pytest.raises(ChainBroken) as info:
            store.audit.verify()
        assert info.value.seq == 2

    def test_audit_tamper_deleted_last_entry(self) -> None:
        # What is left is a valid chain; the trail must still show it lost its end.
        self.require_tamper_evident()
        store = self.open_store()
        for n in range(3):
            store.audit.emit(AuditEntry("a", detail={"n": n}))
        self.tamper(store, AUDIT_STREAM, AUDIT_WRITER, 3, None)
        with pytest.raises(ChainBroken) as info:
            store.audit.verify()
        assert info.value.seq == 3

    def test_audit_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        written = [first.audit.emit(AuditEntry("a", detail={"n": n})) for n in range(3)]
        first.close()
        again = self.open_store()
        assert list(again.audit.records()) == written
        assert again.audit.emit(AuditEntry("b")).prev_hash == written[-1].content_hash
        assert again.audit.verify() == 4


class SessionStoreContract(ContractBase):
    """SessionStore: save overwrites, load raises NotFound when absent, delete idempotent."""

    capability: ClassVar[CapabilityName | None] = "sessions"

    def test_session_load_absent_raises_not_found(self) -> None:
        store = self.open_store()
        sid = SessionId.new()
        with pytest.raises(NotFound) as info:
            store.sessions.load(sid)
        assert str(sid) in str(info.value)

    def test_session_save_then_load(self) -> None:
        store = self.open_store()
        record = SessionRecord(
            SessionId.new(), AgentId.new(), {"turns": [1, 2], "model": "m", "t": 0.5}
        )
        store.sessions.save(record)
        assert store.sessions.load(record.session_id) == record

    def test_session_save_overwrites(self) -> None:
        store = self.open_store()
        sid, agent = SessionId.new(), AgentId.new()
        store.sessions.save(SessionRecord(sid, agent, {"v": 1}))
        other_agent = AgentId.new()
        store.sessions.save(SessionRecord(sid, other_agent, {"v": 2}))
        assert store.sessions.load(sid) == SessionRecord(sid, other_agent, {"v": 2})

    def test_session_delete_is_idempotent(self) -> None:
        store = self.open_store()
        keep = SessionRecord(SessionId.new(), AgentId.new())
        gone = SessionRecord(SessionId.new(), AgentId.new())
        store.sessions.delete(gone.session_id)  # never stored: not an error
        store.sessions.save(keep)
        store.sessions.save(gone)
        store.sessions.delete(gone.session_id)
        store.sessions.delete(gone.session_id)
        with pytest.raises(NotFound):
            store.sessions.load(gone.session_id)
        assert store.sessions.load(keep.session_id) == keep

    @pytest.mark.parametrize("bad", ["a session", None, {"session_id": "x"}])
    def test_session_rejects_bad_input(self, bad: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.sessions.save(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.sessions.load(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.sessions.delete(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.sessions.load(AgentId.new())  # type: ignore[arg-type]

    def test_session_values_are_detached_and_frozen(self) -> None:
        store = self.open_store()
        sid, agent = SessionId.new(), AgentId.new()
        given = json_value()
        store.sessions.save(SessionRecord(sid, agent, given))
        try_to_change(given)
        try_to_change(store.sessions.load(sid).data)
        assert store.sessions.load(sid) == SessionRecord(sid, agent, json_value())

    def test_session_deepest_value_round_trips(self) -> None:
        store = self.open_store()
        record = SessionRecord(SessionId.new(), AgentId.new(), deepest_value())
        store.sessions.save(record)
        assert store.sessions.load(record.session_id).data == deepest_value()

    @pytest.mark.parametrize("bad", BAD_JSON_VALUES)
    def test_session_refuses_values_json_cannot_hold(self, bad: object) -> None:
        store = self.open_store()
        sid = SessionId.new()
        with pytest.raises(InvalidInput, match=r"SessionRecord\.data\['v'\]"):
            store.sessions.save(SessionRecord(sid, AgentId.new(), {"v": bad}))  # type: ignore[dict-item]
        with pytest.raises(NotFound):
            store.sessions.load(sid)

    def test_session_persists_across_reopen(self) -> None:
        self.require_persistent()
        record = SessionRecord(SessionId.new(), AgentId.new(), {"v": 1})
        first = self.open_store()
        first.sessions.save(record)
        first.close()
        assert self.open_store().sessions.load(record.session_id) == record


class CredentialStoreContract(ContractBase):
    """CredentialStore: bytes in, bytes out; overwrite; NotFound; never shown anywhere."""

    capability: ClassVar[CapabilityName | None] = "credentials"

    SECRET: ClassVar[bytes] = b"s3cr3t-\x00\xff-value-7f1c"

    def test_credential_get_absent_raises_not_found(self) -> None:
        store = self.open_store()
        with pytest.raises(NotFound) as info:
            store.credentials.get_secret("api-key")
        assert "api-key" in str(info.value)

    def test_credential_put_then_get(self) -> None:
        store = self.open_store()
        store.credentials.put_secret("api-key", self.SECRET)
        value = store.credentials.get_secret("api-key")
        assert value == self.SECRET
        assert type(value) is bytes

    def test_credential_bytes_like_values_are_stored_as_bytes(self) -> None:
        store = self.open_store()
        store.credentials.put_secret("a", bytearray(b"one"))  # type: ignore[arg-type]
        store.credentials.put_secret("b", memoryview(b"two"))  # type: ignore[arg-type]
        store.credentials.put_secret("empty", b"")
        assert store.credentials.get_secret("a") == b"one"
        assert type(store.credentials.get_secret("b")) is bytes
        assert store.credentials.get_secret("empty") == b""

    def test_credential_put_overwrites(self) -> None:
        store = self.open_store()
        store.credentials.put_secret("api-key", b"old")
        store.credentials.put_secret("api-key", b"new")
        assert store.credentials.get_secret("api-key") == b"new"

    def test_credential_delete_is_idempotent(self) -> None:
        store = self.open_store()
        store.credentials.delete_secret("never-stored")
        store.credentials.put_secret("keep", b"k")
        store.credentials.put_secret("gone", b"g")
        store.credentials.delete_secret("gone")
        store.credentials.delete_secret("gone")
        with pytest.raises(NotFound):
            store.credentials.get_secret("gone")
        assert store.credentials.get_secret("keep") == b"k"

    def test_credential_largest_value(self) -> None:
        store = self.open_store()
        value = bytes(range(256)) * (MAX_SECRET_BYTES // 256)
        store.credentials.put_secret("big", value)
        assert store.credentials.get_secret("big") == value

    @pytest.mark.parametrize("value", ["s3cr3t-as-text", 987654321, ["s3cr3t"], None])
    def test_credential_rejects_non_bytes_without_echoing_it(self, value: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput) as info:
            store.credentials.put_secret("api-key", value)  # type: ignore[arg-type]
        for text in (str(info.value), repr(info.value)):
            assert "s3cr3t" not in text
            assert "987654321" not in text
        with pytest.raises(NotFound):
            store.credentials.get_secret("api-key")

    def test_credential_rejects_oversized_value_and_stores_nothing(self) -> None:
        store = self.open_store()
        value = b"Z" * (MAX_SECRET_BYTES + 1)
        with pytest.raises(InvalidInput) as info:
            store.credentials.put_secret("api-key", value)
        assert "ZZZZ" not in str(info.value)
        with pytest.raises(NotFound):
            store.credentials.get_secret("api-key")

    @pytest.mark.parametrize(
        "name", ["", 7, None, "x" * (MAX_NAME_LENGTH + 1), "a\x00b", "key\ud800", "\udfff"]
    )
    def test_credential_rejects_bad_names(self, name: object) -> None:
        store = self.open_store()
        with pytest.raises(InvalidInput):
            store.credentials.put_secret(name, b"v")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.credentials.get_secret(name)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            store.credentials.delete_secret(name)  # type: ignore[arg-type]

    def test_credential_value_never_shown(self, caplog: pytest.LogCaptureFixture) -> None:
        marker = self.SECRET.decode("latin-1")
        with caplog.at_level(logging.DEBUG):
            store = self.open_store()
            creds = store.credentials
            creds.put_secret("api-key", self.SECRET)
            creds.put_secret("api-key", self.SECRET)
            assert creds.get_secret("api-key") == self.SECRET
            with pytest.raises(NotFound) as info:
                creds.get_secret("other")
            shown = [repr(store), str(store), repr(creds), str(creds), str(info.value)]
            shown += [repr(info.value), repr(store.policy), str(store.policy)]
            creds.delete_secret("api-key")
            store.close()
        shown += [r.getMessage() for r in caplog.records]
        for text in shown:
            assert marker not in text
            assert "s3cr3t" not in text
            assert repr(self.SECRET) not in text

    def test_credential_persists_across_reopen(self) -> None:
        self.require_persistent()
        first = self.open_store()
        first.credentials.put_secret("api-key", self.SECRET)
        first.close()
        assert self.open_store().credentials.get_secret("api-key") == self.SECRET


__all__ = [
    "AuditSinkContract",
    "CredentialStoreContract",
    "PolicyStoreContract",
    "SessionStoreContract",
]
