"""Inputs one backend could store and another could not are refused by the core, alike."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import agentstore
import pytest
from agentstore import (
    AgentId,
    AuditEntry,
    InvalidInput,
    NotFound,
    PolicyDocument,
    SessionId,
    SessionRecord,
    StorePolicy,
)
from agentstore.capabilities import MAX_INT


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[agentstore.Store]:
    if request.param == "memory":
        policy = StorePolicy("memory")
    else:
        policy = StorePolicy("sqlite", sections={"sqlite": {"path": str(tmp_path / "s.db")}})
    with agentstore.open(policy) as s:
        yield s


def test_lone_surrogate_names_are_refused(store: agentstore.Store) -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        store.log("a\ud800", writer="w")
    with pytest.raises(InvalidInput, match="surrogate"):
        store.generation("g\udfff")
    with pytest.raises(InvalidInput, match="surrogate"):
        store.rate_limits.increment("k\ud800")
    assert store.logs() == []


def test_non_ascii_names_are_fine(store: agentstore.Store) -> None:
    log = store.log("conversación", writer="écrivain")
    assert log.append(b"x").seq == 1
    assert store.rate_limits.increment("clé") == 1
    assert store.logs() == [("conversación", "écrivain")]


def test_integers_beyond_64_bits_are_refused(store: agentstore.Store) -> None:
    gen = store.generation("g")
    with pytest.raises(InvalidInput, match="64-bit"):
        gen.advance_to(2**63)
    assert gen.current() == 0
    assert gen.advance_to(2**63 - 1) == 2**63 - 1
    with pytest.raises(InvalidInput, match="64-bit"):
        store.rate_limits.increment("k", 2**64)
    assert store.rate_limits.current("k") == 0


@pytest.mark.parametrize("amount", [0, -1, True, 1.5, "1"])
def test_bad_amounts_are_refused(store: agentstore.Store, amount: object) -> None:
    with pytest.raises(InvalidInput, match="amount"):
        store.rate_limits.increment("k", amount)  # type: ignore[arg-type]
    assert store.rate_limits.current("k") == 0


@pytest.mark.parametrize("window", [0, -1.0, float("inf"), float("nan"), True, "60"])
def test_bad_windows_are_refused(store: agentstore.Store, window: object) -> None:
    with pytest.raises(InvalidInput, match="window_secs"):
        store.rate_limits.increment("k", 1, window)  # type: ignore[arg-type]
    assert store.rate_limits.current("k") == 0


def test_integer_windows_are_accepted(store: agentstore.Store) -> None:
    assert store.rate_limits.increment("k", 2, 60) == 2
    assert store.rate_limits.increment("k", 3, 60.0) == 5


def test_reserved_stream_prefix_is_refused_on_the_handle_too(store: agentstore.Store) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        store.log("agentstore:audit", writer="audit")


def test_lone_surrogates_in_any_name_or_value_are_refused_storing_nothing(
    store: agentstore.Store,
) -> None:
    bad = "k\ud800"
    refusals: list[Callable[[], object]] = [
        lambda: store.log(bad, writer="w"),
        lambda: store.log("s", writer=bad),
        lambda: store.generation(bad),
        lambda: store.credentials.put_secret(bad, b"v"),
        lambda: store.credentials.get_secret(bad),
        lambda: store.credentials.delete_secret(bad),
        lambda: store.rate_limits.increment(bad),
        lambda: store.rate_limits.current(bad),
        lambda: store.rate_limits.reset(bad),
        lambda: store.audit.emit(AuditEntry(bad)),
        lambda: store.audit.emit(AuditEntry("a", detail={"d": [bad]})),
        lambda: store.policies.put(AgentId.new(), PolicyDocument({bad: 1})),
        lambda: store.sessions.save(SessionRecord(SessionId.new(), AgentId.new(), {"k": bad})),
        lambda: AgentId.parse(bad),
        lambda: SessionId.parse(bad),
    ]
    for refused in refusals:
        with pytest.raises(InvalidInput):
            refused()
    assert store.logs() == []
    assert list(store.audit.records()) == []


def test_json_nested_5000_deep_is_refused_storing_nothing(store: agentstore.Store) -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(5000):
        inner["k"] = {}
        inner = inner["k"]
    agent, sid = AgentId.new(), SessionId.new()
    with pytest.raises(InvalidInput, match="nested more than"):
        store.policies.put(agent, PolicyDocument(deep))
    with pytest.raises(InvalidInput, match="nested more than"):
        store.sessions.save(SessionRecord(sid, agent, deep))
    with pytest.raises(InvalidInput, match="nested more than"):
        store.audit.emit(AuditEntry("a", detail=deep))
    with pytest.raises(NotFound):
        store.policies.get(agent)
    with pytest.raises(NotFound):
        store.sessions.load(sid)
    assert list(store.audit.records()) == []


def test_rate_limit_total_past_64_bits_is_refused_and_kept_an_integer(
    store: agentstore.Store, tmp_path: Path
) -> None:
    rl = store.rate_limits
    assert rl.increment("k", MAX_INT - 1) == MAX_INT - 1
    with pytest.raises(InvalidInput, match="past 9223372036854775807"):
        rl.increment("k", 2)
    assert rl.current("k") == MAX_INT - 1
    assert rl.increment("k") == MAX_INT
    if store.policy.driver_for("rate_limits") == "sqlite":
        # What the file holds: the integer, never the REAL SQLite turns an overflow into.
        with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as db:
            row = db.execute(
                "SELECT count, typeof(count) FROM agentstore_rate_limits WHERE key = 'k'"
            ).fetchone()
        assert row == (MAX_INT, "integer")


@pytest.mark.parametrize("batch", [5, None, b"ab", bytearray(b"ab"), "ab"])
@pytest.mark.parametrize("expect_head", [None, 0])
def test_a_batch_that_is_not_an_iterable_of_payloads_is_refused_storing_nothing(
    store: agentstore.Store, batch: object, expect_head: int | None
) -> None:
    """A non-iterable once raised TypeError (not a StoreError), and one bytes value was
    refused as 'payload #0 must be bytes, not int'."""
    log = store.log("s", "w")
    with pytest.raises(InvalidInput, match="payloads must be an iterable of payloads"):
        log.append_many(batch, expect_head=expect_head)  # type: ignore[arg-type]
    assert log.head() is None
