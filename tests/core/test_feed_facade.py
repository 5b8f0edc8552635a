"""The feed, conditional appends, stream views and erasure at the facade: what the core
does whatever the driver (argument checks, Unsupported for a driver written before them,
Verified, the audit record, follow), and the chain check through redacted rows."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator, Sequence

import agentstore
import pytest
from agentstore import (
    ChainBroken,
    Conflict,
    Entry,
    HeadMoved,
    StoreError,
    StorePolicy,
    Unsupported,
    Verified,
    WriterLogStore,
    chain_hash,
)
from agentstore.chain import verify_rows, verify_to_head
from agentstore.doorbell import Doorbell
from agentstore.driver import DriverSpec, DriverStores, OpenContext
from agentstore.handles import WriterLog
from core_drivers import private_registry


class FirstReleaseLogs(WriterLogStore):
    """A log store as a driver written against the first release has it: the abstract
    hooks only, entries built with six fields, verify returning a plain int."""

    def __init__(self) -> None:
        self.logs: dict[tuple[str, str], list[Entry]] = {}

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return self._append_many(stream, writer, [payload])[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        log = self.logs.setdefault((stream, writer), [])
        out = []
        for p in payloads:
            prev = log[-1].content_hash if log else None
            log.append(Entry(stream, writer, len(log) + 1, p, prev, chain_hash(prev, p)))
            out.append(log[-1])
        return out

    def _head(self, stream: str, writer: str) -> Entry | None:
        log = self.logs.get((stream, writer))
        return log[-1] if log else None

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        yield from self.logs.get((stream, writer), [])[after:]

    def _logs(self) -> Iterator[tuple[str, str]]:
        yield from sorted(self.logs)

    def _verify(self, stream: str, writer: str) -> int:
        return len(self.logs.get((stream, writer), []))


def _open_old(config: object, context: OpenContext) -> DriverStores:
    return DriverStores(logs=FirstReleaseLogs())


OLD = DriverSpec(name="oldlogs", open=_open_old, capabilities=frozenset({"logs"}))


@pytest.fixture
def old_store() -> Iterator[agentstore.Store]:
    policy = StorePolicy("memory", capabilities={"logs": "oldlogs"})
    with agentstore.open(policy, registry=private_registry(OLD)) as store:
        yield store


def test_a_first_release_driver_keeps_working_and_refuses_the_new_calls(
    old_store: agentstore.Store,
) -> None:
    log = old_store.log("s", writer="w")
    entry = log.append(b"still works")
    assert (entry.seq, entry.position, entry.redacted) == (1, 0, False)
    rung: list[agentstore.CommitEvent] = []
    old_store.doorbell.subscribe(rung.append)
    log.append(b"rings")
    assert rung[0].position == 0
    checked = log.verify()
    assert type(checked) is Verified and (checked, checked.redacted) == (2, 0)
    for call in (
        lambda: log.append(b"x", expect_head=2),
        lambda: log.append_many([b"x"], expect_head=2),
        lambda: log.redact(1, reason="gdpr"),
        lambda: list(old_store.feed()),
        old_store.position,
        lambda: list(old_store.stream("s").entries()),
        lambda: next(old_store.follow(timeout=0.1)),
    ):
        with pytest.raises(Unsupported, match="FirstReleaseLogs does not support"):
            call()
    assert [e.payload for e in log.entries()] == [b"still works", b"rings"]


def test_head_moved_is_a_conflict_naming_both_heads() -> None:
    err = HeadMoved("s", "w", 3, 5)
    assert isinstance(err, Conflict)
    assert (err.stream, err.writer, err.expected, err.actual) == ("s", "w", 3, 5)
    assert str(err) == "log ('s', 'w'): expected head 3 but the head is 5; nothing was appended"


def test_verified_is_the_count_it_always_was() -> None:
    v = Verified(3, redacted=1)
    assert v == 3 and isinstance(v, int) and v.redacted == 1
    assert (str(v), repr(v), f"{v}", v + 1) == ("3", "3", "3", 4)
    again = pickle.loads(pickle.dumps(v))
    assert (again, again.redacted) == (3, 1)
    assert Verified(2).redacted == 0


def _rows(payloads: list[bytes]) -> list[tuple[int, bytes | None, bytes | None, bytes]]:
    rows: list[tuple[int, bytes | None, bytes | None, bytes]] = []
    prev = None
    for i, p in enumerate(payloads, 1):
        digest = chain_hash(prev, p)
        rows.append((i, p, prev, digest))
        prev = digest
    return rows


def test_verify_rows_checks_every_link_through_a_redacted_row() -> None:
    rows = _rows([b"a", b"b", b"c"])
    redacted = [rows[0], (2, None, rows[1][2], rows[1][3]), rows[2]]
    count, last = verify_rows("s", "w", redacted)
    assert (count, count.redacted, last) == (3, 1, rows[2][3])
    # A redacted row whose own hash was changed breaks the link to the next entry.
    forged = [rows[0], (2, None, rows[1][2], b"\x00" * 32), rows[2]]
    with pytest.raises(ChainBroken) as info:
        verify_rows("s", "w", forged)
    assert info.value.seq == 3
    # ... and one whose prev_hash was changed breaks the link into it.
    relinked = [rows[0], (2, None, b"\x01" * 32, rows[1][3]), rows[2]]
    with pytest.raises(ChainBroken) as info:
        verify_rows("s", "w", relinked)
    assert info.value.seq == 2
    # A redacted head is still checked against the recorded head.
    tail = [rows[0], (2, None, rows[1][2], rows[1][3])]
    assert verify_to_head("s", "w", tail, lambda s, w: (2, rows[1][3])).redacted == 1
    with pytest.raises(ChainBroken):
        verify_to_head("s", "w", tail, lambda s, w: (2, rows[2][3]))


def test_redact_reason_is_checked_before_anything_changes() -> None:
    with agentstore.open(StorePolicy("memory")) as store:
        log = store.log("s", writer="w")
        log.append(b"personal")
        for bad in ("", " \n", None, "x" * 1001):
            with pytest.raises(agentstore.InvalidInput):
                log.redact(1, reason=bad)  # type: ignore[arg-type]
        assert next(iter(log.entries())).payload == b"personal"
        assert list(store.audit.records()) == []


def test_a_handle_built_the_first_release_way_redacts_without_an_audit_record() -> None:
    with agentstore.open(StorePolicy("memory")) as store:
        logs = store.capability("logs")
        assert isinstance(logs, WriterLogStore)
        log = WriterLog(logs, Doorbell(), "s", "w")  # four arguments: no audit sink
        log.append(b"x")
        assert log.redact(1, reason="gdpr").redacted
        assert list(store.audit.records()) == []


def test_follow_returns_after_a_quiet_timeout_and_stops_when_the_store_closes() -> None:
    store = agentstore.open(StorePolicy("memory"))
    entry = store.log("s", writer="w").append(b"1")
    assert [e.position for e in store.follow(timeout=0.05)] == [entry.position]
    failed: list[BaseException] = []
    started = threading.Event()

    def forever() -> None:
        try:
            for _ in store.follow(after=entry.position):
                pass
        except StoreError as exc:
            failed.append(exc)

    def opened() -> None:
        started.set()
        forever()

    thread = threading.Thread(target=opened, daemon=True)
    thread.start()
    assert started.wait(10)
    store.close()
    thread.join(10)
    assert not thread.is_alive()
    assert "closed" in str(failed[0])
