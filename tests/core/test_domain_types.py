"""Domain types: identifiers, fingerprints and records validate on construction."""

from __future__ import annotations

import math
import uuid

import pytest
from agentstore import (
    AgentId,
    AuditEntry,
    CommitEvent,
    Entry,
    Fingerprint,
    InvalidInput,
    PolicyDocument,
    SessionId,
    SessionRecord,
)
from blake3 import blake3

KEY = bytes(range(32))


# -- Fingerprint ----------------------------------------------------------------------------


def test_fingerprint_is_blake3_of_the_public_key() -> None:
    fp = Fingerprint.of_public_key(KEY)
    assert fp.digest == blake3(KEY).digest()
    assert len(fp.digest) == 32


def test_fingerprint_hex_round_trip() -> None:
    fp = Fingerprint.of_public_key(KEY)
    text = fp.hex()
    assert len(text) == 64
    assert text == text.lower()
    assert Fingerprint.from_hex(text) == fp
    assert Fingerprint.from_hex(text.upper()) == fp
    assert str(fp) == text
    assert hash(Fingerprint.from_hex(text)) == hash(fp)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ab",
        "0" * 63,
        "0" * 65,
        "g" * 64,
        "0x" + "0" * 62,
        " " + "0" * 63,
        b"0" * 64,
        None,
        42,
    ],
)
def test_fingerprint_garbage_rejected(text: object) -> None:
    with pytest.raises(InvalidInput):
        Fingerprint.from_hex(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("digest", [b"", b"\x00" * 31, b"\x00" * 33, "0" * 32, bytearray(32)])
def test_fingerprint_digest_must_be_32_bytes(digest: object) -> None:
    with pytest.raises(InvalidInput):
        Fingerprint(digest)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [b"", b"\x00" * 31, b"\x00" * 33, "k" * 32])
def test_fingerprint_of_public_key_needs_32_bytes(key: object) -> None:
    with pytest.raises(InvalidInput):
        Fingerprint.of_public_key(key)  # type: ignore[arg-type]


def test_fingerprint_is_immutable() -> None:
    fp = Fingerprint.of_public_key(KEY)
    with pytest.raises(AttributeError):
        fp.digest = bytes(32)  # type: ignore[misc]


# -- AgentId / SessionId --------------------------------------------------------------------


@pytest.mark.parametrize("kind", [AgentId, SessionId])
def test_uuid_ids_round_trip(kind: type[AgentId] | type[SessionId]) -> None:
    ident = kind.new()
    assert ident.value.version == 4
    assert kind.parse(str(ident)) == ident
    assert kind.from_bytes(ident.to_bytes()) == ident
    assert len(ident.to_bytes()) == 16
    assert kind(uuid.UUID(str(ident))) == ident
    assert kind.new() != ident


@pytest.mark.parametrize("kind", [AgentId, SessionId])
@pytest.mark.parametrize("text", ["", "not-a-uuid", "1234", None, 5, b"x" * 16])
def test_uuid_ids_reject_garbage(kind: type[AgentId], text: object) -> None:
    with pytest.raises(InvalidInput):
        kind.parse(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b"", b"\x00" * 15, b"\x00" * 17, "x" * 16])
def test_uuid_ids_reject_bad_bytes(raw: object) -> None:
    with pytest.raises(InvalidInput):
        AgentId.from_bytes(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0b9e4a2c-0000-4000-8000-000000000000", 7, None])
def test_uuid_ids_wrap_a_uuid_only(value: object) -> None:
    with pytest.raises(InvalidInput):
        AgentId(value)  # type: ignore[arg-type]


def test_agent_and_session_ids_are_distinct_types() -> None:
    u = uuid.uuid4()
    assert AgentId(u) != SessionId(u)
    assert AgentId(u) == AgentId(u)
    assert {AgentId(u), AgentId(u)} == {AgentId(u)}


def test_agent_ids_sort_by_uuid() -> None:
    ids = [AgentId.new() for _ in range(5)]
    assert [i.value for i in sorted(ids)] == sorted(i.value for i in ids)


# -- records --------------------------------------------------------------------------------


def test_policy_document_is_detached_and_canonical() -> None:
    body: dict[str, object] = {"b": [1, 2], "a": {"z": None}}
    doc = PolicyDocument(body)  # type: ignore[arg-type]
    body["b"] = "changed"
    assert doc.body == {"b": [1, 2], "a": {"z": None}}
    assert doc.to_json() == b'{"a":{"z":null},"b":[1,2]}'
    assert PolicyDocument.from_json(doc.to_json()) == doc


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        "text",
        None,
        {"x": math.nan},
        {"x": {1, 2}},
        {"x": object()},
        {1: "an int key would come back as '1'"},
        {"nested": {True: 1}},
        {"in a list": [{None: 1}]},
    ],
)
def test_policy_document_rejects_non_json(body: object) -> None:
    with pytest.raises(InvalidInput):
        PolicyDocument(body)  # type: ignore[arg-type]


def test_audit_entry_canonical_bytes_are_pinned() -> None:
    agent = AgentId(uuid.UUID("12345678-1234-4234-8234-123456789abc"))
    entry = AuditEntry("policy.update", agent, {"v": 2, "by": "ops"})
    # The audit chain hashes exactly these bytes: they must never change.
    assert entry.to_json() == (
        b'{"action":"policy.update","agent_id":"12345678-1234-4234-8234-123456789abc",'
        b'"detail":{"by":"ops","v":2}}'
    )
    assert AuditEntry.from_json(entry.to_json()) == entry
    assert AuditEntry.from_json(AuditEntry("x").to_json()) == AuditEntry("x")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("",), {}),
        ((3,), {}),
        (("a",), {"agent_id": "not an id"}),
        (("a",), {"agent_id": SessionId.new()}),
        (("a",), {"detail": [1]}),
        (("a",), {"detail": {"x": math.inf}}),
    ],
)
def test_audit_entry_validates(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        AuditEntry(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sid", "aid", "data"),
    [
        ("s", AgentId.new(), {}),
        (SessionId.new(), "a", {}),
        (AgentId.new(), AgentId.new(), {}),
        (SessionId.new(), AgentId.new(), [1]),
    ],
)
def test_session_record_validates(sid: object, aid: object, data: object) -> None:
    with pytest.raises(InvalidInput):
        SessionRecord(sid, aid, data)  # type: ignore[arg-type]


def test_entry_and_commit_event_shapes() -> None:
    assert Entry._fields == ("stream", "writer", "seq", "payload", "prev_hash", "content_hash")
    assert CommitEvent._fields == ("stream", "writer", "seq", "content_hash")


def test_non_string_keys_are_refused_everywhere() -> None:
    with pytest.raises(InvalidInput, match="keys must be strings"):
        AuditEntry("a", detail={"x": {1: 2}})
    with pytest.raises(InvalidInput, match="keys must be strings"):
        SessionRecord(SessionId.new(), AgentId.new(), {"turns": [{2: "b"}]})
