"""Domain types: identifiers, fingerprints and records validate on construction."""

from __future__ import annotations

import copy
import json
import math
import pickle
import uuid
from collections.abc import Callable
from typing import Any

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
from agentstore.capabilities import MAX_JSON_DEPTH
from agentstore.types import FrozenDict, FrozenList, canonical_json
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
    assert Entry._fields == (
        "stream",
        "writer",
        "seq",
        "payload",
        "prev_hash",
        "content_hash",
        "position",
        "redacted",
    )
    assert CommitEvent._fields == ("stream", "writer", "seq", "content_hash", "position")


def test_entry_and_commit_event_built_the_first_release_way_get_defaults() -> None:
    # A driver written before positions builds them with 6 and 4 arguments.
    entry = Entry("s", "w", 1, b"p", None, bytes(32))
    assert (entry.position, entry.redacted) == (0, False)
    assert CommitEvent("s", "w", 1, bytes(32)).position == 0


def test_non_string_keys_are_refused_everywhere() -> None:
    with pytest.raises(InvalidInput, match="keys must be strings"):
        AuditEntry("a", detail={"x": {1: 2}})
    with pytest.raises(InvalidInput, match="keys must be strings"):
        SessionRecord(SessionId.new(), AgentId.new(), {"turns": [{2: "b"}]})


# -- JSON values: what JSON holds exactly, nothing else --------------------------------------

# Each builds one domain value around a JSON value placed inside its JSON field.
BUILDERS: dict[str, Callable[[Any], object]] = {
    "PolicyDocument.body": lambda v: PolicyDocument({"rules": v}),
    "SessionRecord.data": lambda v: SessionRecord(SessionId.new(), AgentId.new(), {"rules": v}),
    "AuditEntry.detail": lambda v: AuditEntry("a", detail={"rules": v}),
}


@pytest.mark.parametrize("what", BUILDERS)
@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("\ud800", "['rules']"),
        ("ok \udfff ok", "['rules']"),
        ({"\udc80": 1}, "['rules']['\\udc80']"),
        ([1, {"k": ["x", "\ud800"]}], "['rules'][1]['k'][1]"),
        ({"a": {"b\ud83d": None}}, "['rules']['a']['b\\ud83d']"),
    ],
)
def test_lone_surrogates_are_refused_where_the_value_is_built(
    what: str, value: object, path: str
) -> None:
    with pytest.raises(InvalidInput, match="surrogate") as info:
        BUILDERS[what](value)
    assert str(info.value).startswith(what + path + ":")


def test_a_lone_surrogate_action_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"AuditEntry\.action: a lone surrogate"):
        AuditEntry("a\ud800")
    assert AuditEntry("politique.mise-à-jour ☃").action == "politique.mise-à-jour ☃"


def test_paired_surrogates_and_any_valid_text_are_kept() -> None:
    text = "emoji \U0001f600 naïve \u2603 \x00"
    doc = PolicyDocument({text: [text]})
    assert doc.body == {text: [text]}
    assert PolicyDocument.from_json(doc.to_json()) == doc


def _nested(depth: int, kind: str) -> dict[str, Any]:
    """A mapping whose containers nest ``depth`` levels deep, the mapping itself counted."""
    inner: Any = 1
    for _ in range(depth - 1):
        inner = {"k": inner} if kind == "object" else [inner]
    return {"k": inner}


@pytest.mark.parametrize("what", BUILDERS)
@pytest.mark.parametrize("kind", ["object", "array"])
def test_json_nested_5000_deep_is_refused_not_a_recursion_error(what: str, kind: str) -> None:
    with pytest.raises(InvalidInput, match=f"nested more than {MAX_JSON_DEPTH} levels") as info:
        BUILDERS[what](_nested(5000, kind))
    assert len(str(info.value)) < 200  # the path is shortened, not 5,000 steps long


@pytest.mark.parametrize("kind", ["object", "array"])
def test_the_depth_limit_is_exact(kind: str) -> None:
    # The domain value's own object is level 1: the JSON field holds MAX_JSON_DEPTH - 1 more.
    deepest = _nested(MAX_JSON_DEPTH - 1, kind)
    assert PolicyDocument({"d": deepest}).body == {"d": deepest}
    assert PolicyDocument.from_json(PolicyDocument({"d": deepest}).to_json()).body["d"] == deepest
    with pytest.raises(InvalidInput, match="nested more than"):
        PolicyDocument({"d": _nested(MAX_JSON_DEPTH, kind)})
    assert MAX_JSON_DEPTH == 64


def test_json_text_nested_5000_deep_is_refused_when_read() -> None:
    deep = '{"k":' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(InvalidInput, match="nested more than"):
        PolicyDocument.from_json(deep)
    deep_detail = '{"action":"a","agent_id":null,"detail":' + '{"k":' * 5000 + "1" + "}" * 5001
    with pytest.raises(InvalidInput, match="nested more than"):
        AuditEntry.from_json(deep_detail.encode())


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", "nan?", b""])
def test_from_json_refuses_text_that_is_not_json(raw: bytes | str) -> None:
    with pytest.raises(InvalidInput, match="not JSON text"):
        PolicyDocument.from_json(raw)
    with pytest.raises(InvalidInput, match="not JSON text"):
        AuditEntry.from_json(raw if isinstance(raw, bytes) else raw.encode())


@pytest.mark.parametrize(
    "raw", [b"[]", b'"a"', b"{}", b'{"detail":{}}', b'{"action":"a","agent_id":"x"}']
)
def test_audit_entry_from_json_refuses_json_that_is_not_an_entry(raw: bytes) -> None:
    with pytest.raises(InvalidInput):
        AuditEntry.from_json(raw)
    with pytest.raises(InvalidInput, match="must be a mapping"):
        PolicyDocument.from_json(b"[1]")


@pytest.mark.parametrize("what", BUILDERS)
@pytest.mark.parametrize(
    ("value", "path", "problem"),
    [
        (math.nan, "['rules']", "nan is not a JSON number"),
        ({"x": [math.inf]}, "['rules']['x'][0]", "inf is not a JSON number"),
        ({"x": -math.inf}, "['rules']['x']", "-inf is not a JSON number"),
        ([{1, 2}], "['rules'][0]", "set is not a JSON type"),
        ({"b": b"raw"}, "['rules']['b']", "bytes is not a JSON type"),
        ({"o": object()}, "['rules']['o']", "object is not a JSON type"),
        ({"n": {2: "two"}}, "['rules']['n']", "keys must be strings, not int"),
        ({None: 1}, "['rules']", "keys must be strings, not NoneType"),
    ],
)
def test_values_json_cannot_round_trip_are_refused_naming_the_path(
    what: str, value: object, path: str, problem: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        BUILDERS[what](value)
    assert str(info.value) == f"{what}{path}: {problem}"


def test_long_keys_are_shortened_in_messages() -> None:
    key = "k" * 10_000
    with pytest.raises(InvalidInput) as info:
        PolicyDocument({key: math.nan})
    assert len(str(info.value)) < 120


def test_canonical_json_refuses_what_the_values_refuse() -> None:
    assert canonical_json({"b": (1, 2), "a": "é"}, what="v") == '{"a":"é","b":[1,2]}'.encode()
    for bad in ({"k": "\ud800"}, {"k": math.nan}, _nested(5000, "array")):
        with pytest.raises(InvalidInput):
            canonical_json(bad, what="v")


def test_tuples_and_subclasses_become_what_a_json_round_trip_gives() -> None:
    import enum
    from collections import OrderedDict

    class Colour(enum.StrEnum):
        RED = "red"

    class Size(enum.IntEnum):
        BIG = 3

    doc = PolicyDocument(OrderedDict(t=(1, 2), c=Colour.RED, s=Size.BIG, f=True))
    assert doc.body == {"t": [1, 2], "c": "red", "s": 3, "f": True}
    assert [type(v) for v in doc.body.values()] == [FrozenList, str, int, bool]
    assert PolicyDocument.from_json(doc.to_json()) == doc


# -- JSON values are frozen ------------------------------------------------------------------


def _mutations(body: dict[str, Any]) -> list[Callable[[], object]]:
    items: Any = body["items"]
    nested: Any = body["nested"]
    return [
        lambda: body.__setitem__("new", 1),
        lambda: body.__delitem__("items"),
        lambda: body.pop("items"),
        body.popitem,
        lambda: body.setdefault("new", 1),
        lambda: body.update(new=1),
        body.clear,
        lambda: body.__ior__({"new": 1}),
        lambda: nested.__setitem__("x", 2),
        lambda: items.append(4),
        lambda: items.extend([4]),
        lambda: items.insert(0, 4),
        lambda: items.__setitem__(0, 4),
        lambda: items.__delitem__(0),
        items.pop,
        lambda: items.remove(1),
        lambda: items.sort(reverse=True),
        items.reverse,
        items.clear,
        lambda: items.__iadd__([4]),
        lambda: items.__imul__(2),
        lambda: items[2].__setitem__("deep", 0),
    ]


FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "PolicyDocument.body": lambda v: PolicyDocument(v).body,
    "SessionRecord.data": lambda v: SessionRecord(SessionId.new(), AgentId.new(), v).data,
    "AuditEntry.detail": lambda v: AuditEntry("a", detail=v).detail,
}


@pytest.mark.parametrize("what", FIELDS)
def test_json_fields_refuse_every_change(what: str) -> None:
    original = {"items": [1, 2, {"deep": 1}], "nested": {"x": 1}}
    body = FIELDS[what](copy.deepcopy(original))
    for mutate in _mutations(body):
        with pytest.raises(TypeError, match="read-only"):
            mutate()
    assert body == original


@pytest.mark.parametrize("what", FIELDS)
def test_json_fields_read_and_serialise_as_plain_json(what: str) -> None:
    original = {"items": [1, 2, {"deep": 1}], "nested": {"x": None}, "s": "é"}
    body = FIELDS[what](copy.deepcopy(original))
    assert isinstance(body, dict) and isinstance(body["items"], list)
    assert type(body) is FrozenDict and type(body["items"]) is FrozenList
    assert body == original and original == body
    assert body["items"][2]["deep"] == 1 and list(body) == ["items", "nested", "s"]
    assert json.loads(json.dumps(body)) == original
    assert json.dumps(body, sort_keys=True) == json.dumps(original, sort_keys=True)
    assert repr(body) == repr(original)
    # A copy is the way to change one: dict() and .copy() give plain, mutable dicts.
    thawed = dict(body)
    thawed["new"] = 1
    assert type(body.copy()) is dict and "new" not in body
    assert type(body | {"new": 1}) is dict


def test_frozen_values_survive_pickle_and_copy() -> None:
    doc = PolicyDocument({"items": [1, {"deep": [2]}]})
    for other in (pickle.loads(pickle.dumps(doc)), copy.deepcopy(doc), copy.copy(doc)):
        assert other == doc
        assert type(other.body) is FrozenDict
        assert type(other.body["items"]) is FrozenList
        with pytest.raises(TypeError):
            other.body["items"].append(3)  # type: ignore[union-attr]
    assert type(copy.copy(doc.body)) is FrozenDict


def test_changing_the_dict_given_changes_no_value() -> None:
    given: dict[str, Any] = {"items": [1, {"deep": 1}]}
    doc = PolicyDocument(given)
    record = SessionRecord(SessionId.new(), AgentId.new(), given)
    entry = AuditEntry("a", detail=given)
    given["items"][1]["deep"] = 2
    given["items"].append(3)
    given["new"] = True
    for body in (doc.body, record.data, entry.detail):
        assert body == {"items": [1, {"deep": 1}]}
