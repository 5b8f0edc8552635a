"""Every capability of the SQL substrate, on each backend in conftest.BACKENDS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agentstore import (
    AgentId,
    AuditEntry,
    ChainBroken,
    NonMonotonicGeneration,
    NotFound,
    PolicyDocument,
    SessionId,
    SessionRecord,
    chain_hash,
)
from agentstore.capabilities import CAPABILITIES
from agentstore.driver import DriverStores, OpenContext
from agentstore.sql import Backend, SqlLogStore, open_sql_stores
from agentstore.sql.backend import Dialect
from conftest import log_store_class


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _open(backend: Backend, clock: FakeClock | None = None) -> DriverStores:
    ctx = OpenContext(capabilities=frozenset(CAPABILITIES), clock=clock or FakeClock())
    return open_sql_stores(backend, ctx, log_store=log_store_class(backend))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stores(backend: Backend, clock: FakeClock) -> DriverStores:
    return _open(backend, clock)


# -- generations ---------------------------------------------------------------------------


def test_generation_counts_and_refuses_to_go_back(stores: DriverStores) -> None:
    gens = stores.generations
    assert gens is not None
    assert gens.current("g") == 0
    assert [gens.bump("g") for _ in range(3)] == [1, 2, 3]
    assert gens.advance_to("g", 10) == 10
    assert gens.advance_to("g", 10) == 10
    with pytest.raises(NonMonotonicGeneration) as info:
        gens.advance_to("g", 4)
    assert (info.value.current, info.value.requested) == (10, 4)
    assert gens.current("g") == 10
    assert gens.bump("g") == 11
    assert gens.current("other") == 0
    assert gens.advance_to("fresh", 5) == 5


# -- logs ----------------------------------------------------------------------------------


def test_appends_chain_with_blake3(stores: DriverStores) -> None:
    logs = stores.logs
    assert logs is not None
    first = logs._append("s", "w", b"one")
    assert (first.seq, first.prev_hash, first.content_hash) == (1, None, chain_hash(None, b"one"))
    second = logs._append("s", "w", b"two")
    assert second.prev_hash == first.content_hash
    assert second.content_hash == chain_hash(first.content_hash, b"two")
    batch = logs._append_many("s", "w", [b"three", b"", b"five"])
    assert [e.seq for e in batch] == [3, 4, 5]
    assert batch[0].prev_hash == second.content_hash
    assert logs._head("s", "w") == batch[-1]
    assert list(logs._entries("s", "w", 0)) == [first, second, *batch]
    assert logs._verify("s", "w") == 5


def test_logs_are_separate_per_stream_and_writer(stores: DriverStores) -> None:
    logs = stores.logs
    assert logs is not None
    for stream, writer in [("b", "x"), ("a", "y"), ("a", "x"), ("é", "z"), ("a", "x")]:
        logs._append(stream, writer, stream.encode() + writer.encode())
    assert logs._head("a", "x") is not None
    assert logs._head("a", "x").seq == 2  # type: ignore[union-attr]
    assert logs._head("nope", "x") is None
    assert logs.logs() == sorted([("a", "x"), ("a", "y"), ("b", "x"), ("é", "z")])
    assert logs._verify("nope", "x") == 0


def test_entries_stream_across_pages(backend: Backend) -> None:
    ensure = _open(backend)  # creates the schema
    assert ensure.logs is not None
    logs = log_store_class(backend)(backend, page_size=3)
    written = logs._append_many("s", "w", [bytes([i]) for i in range(10)])
    assert list(logs._entries("s", "w", 0)) == written
    assert list(logs._entries("s", "w", 4)) == written[4:]
    assert list(logs._entries("s", "w", 9)) == written[9:]
    assert list(logs._entries("s", "w", 10)) == []
    assert logs._verify("s", "w") == 10


def test_stale_remembered_head_is_recovered(shared_factory: Callable[[], Backend]) -> None:
    a, b = _open(shared_factory()).logs, _open(shared_factory()).logs
    assert a is not None and b is not None
    a._append("s", "w", b"a1")
    b._append("s", "w", b"b1")  # b reads the head a wrote
    a._append("s", "w", b"a2")  # a's remembered head is stale: seq 2 is taken
    b._append_many("s", "w", [b"b2", b"b3"])  # b's too
    a._append_many("s", "w", [b"a3"])
    entries = list(a._entries("s", "w", 0))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e.payload for e in entries] == [b"a1", b"b1", b"a2", b"b2", b"b3", b"a3"]
    assert a._verify("s", "w") == 6


def test_verify_reports_an_edited_payload(stores: DriverStores, backend: Backend) -> None:
    logs = stores.logs
    assert logs is not None
    logs._append_many("s", "w", [b"a", b"b", b"c"])
    table = "agentstore_log_rows" if backend.dialect is Dialect.SQLITE else "agentstore_log"
    backend.exec(
        f"UPDATE {table} SET payload = ? WHERE stream = ? AND writer = ? AND seq = ?",
        (b"B", "s", "w", 2),
    )
    with pytest.raises(ChainBroken) as info:
        logs._verify("s", "w")
    assert info.value.seq == 2


def test_tamper_hook_breaks_the_chain_where_told(stores: DriverStores) -> None:
    logs = stores.logs
    assert isinstance(logs, SqlLogStore)
    written = logs._append_many("s", "w", [b"a", b"b", b"c", b"d"])
    forged = written[2]._replace(payload=b"C")
    logs.tamper("s", "w", 3, forged)
    assert next(e for e in logs._entries("s", "w", 2)).payload == b"C"
    with pytest.raises(ChainBroken) as info:
        logs._verify("s", "w")
    assert info.value.seq == 3
    logs.tamper("s", "w", 3, written[2])
    assert logs._verify("s", "w") == 4
    logs.tamper("s", "w", 2, None)
    with pytest.raises(ChainBroken) as info:
        logs._verify("s", "w")
    assert info.value.seq == 2


def test_audit_is_a_verified_chain(stores: DriverStores) -> None:
    audit = stores.audit
    assert audit is not None
    agent = AgentId.new()
    records = [audit.emit(AuditEntry("policy.update", agent, {"n": i})) for i in range(3)]
    assert [r.seq for r in records] == [1, 2, 3]
    assert [r.entry for r in audit.records()] == [r.entry for r in records]
    assert [r.seq for r in audit.records(after=2)] == [3]
    assert audit.verify() == 3


# -- governance stores ---------------------------------------------------------------------


def test_policies(stores: DriverStores) -> None:
    policies = stores.policies
    assert policies is not None
    agent = AgentId.new()
    with pytest.raises(NotFound):
        policies.get(agent)
    policies.put(agent, PolicyDocument({"allow": ["read"]}))
    policies.put(agent, PolicyDocument({"allow": ["read", "write"], "n": 1.5}))
    assert policies.get(agent) == PolicyDocument({"allow": ["read", "write"], "n": 1.5})
    policies.invalidate(agent)
    policies.invalidate(agent)
    with pytest.raises(NotFound):
        policies.get(agent)


def test_sessions(stores: DriverStores) -> None:
    sessions = stores.sessions
    assert sessions is not None
    record = SessionRecord(SessionId.new(), AgentId.new(), {"step": 1, "notes": ["é", None]})
    with pytest.raises(NotFound):
        sessions.load(record.session_id)
    sessions.save(record)
    assert sessions.load(record.session_id) == record
    newer = SessionRecord(record.session_id, AgentId.new(), {"step": 2})
    sessions.save(newer)
    assert sessions.load(record.session_id) == newer
    sessions.delete(record.session_id)
    sessions.delete(record.session_id)
    with pytest.raises(NotFound):
        sessions.load(record.session_id)


def test_credentials_keep_bytes_and_hide_them(stores: DriverStores) -> None:
    creds = stores.credentials
    assert creds is not None
    secret = b"\x00hunter2\xff"
    creds.put_secret("db", secret)
    assert creds.get_secret("db") == secret
    creds.put_secret("db", b"rotated")
    assert creds.get_secret("db") == b"rotated"
    assert "rotated" not in repr(creds)
    creds.delete_secret("db")
    creds.delete_secret("db")
    with pytest.raises(NotFound) as info:
        creds.get_secret("db")
    assert "rotated" not in str(info.value)


def test_rate_limit_windows(stores: DriverStores, clock: FakeClock) -> None:
    rl = stores.rate_limits
    assert rl is not None
    assert rl.current("k") == 0
    assert rl.increment("k", 2, 10) == 2
    assert rl.increment("k", 3, 10) == 5
    clock.now += 9.5
    assert rl.current("k") == 5
    assert rl.increment("k", 1, 10) == 6
    clock.now += 0.5  # the window opened 10 s ago: it has expired
    assert rl.current("k") == 0
    assert rl.increment("k", 1, 10) == 1
    assert rl.increment("other", 4, 1) == 4
    rl.reset("k")
    rl.reset("k")
    assert rl.current("k") == 0
    assert rl.current("other") == 4


def test_rate_limit_hits_keep_sliding_windows_in_the_same_table(
    stores: DriverStores, backend: Backend, clock: FakeClock
) -> None:
    # 1_000_000 is a multiple of 10: window 100_000 is [1_000_000, 1_000_010), number even.
    rl = stores.rate_limits
    assert rl is not None

    def rows() -> list[tuple[object, ...]]:
        found = backend.query("SELECT key, window_end, count FROM agentstore_rate_limits")
        return sorted((str(k), float(e), int(c)) for k, e, c in found)  # type: ignore[arg-type]

    assert rl.hit("k", 4, 10, cost=3, strategy="sliding").remaining == 1
    assert rows() == [("agentstore:sliding:0:k", 1_000_010.0, 3)]
    assert not rl.hit("k", 4, 10, cost=2, strategy="sliding").allowed
    assert rows() == [("agentstore:sliding:0:k", 1_000_010.0, 3)]  # a refusal writes nothing
    clock.now += 15  # the next window, halfway: floor(3 * 0.5) of the previous counts
    assert rl.hit("k", 4, 10, cost=3, strategy="sliding").remaining == 0
    assert rows() == [
        ("agentstore:sliding:0:k", 1_000_010.0, 3),
        ("agentstore:sliding:1:k", 1_000_020.0, 3),
    ]
    assert rl.hit("k", 4, 10).remaining == 3  # the fixed window is the key's own row
    assert [r[0] for r in rows()] == ["agentstore:sliding:0:k", "agentstore:sliding:1:k", "k"]
    rl.reset("k")
    assert rows() == []


def test_lifecycle(stores: DriverStores, clock: FakeClock) -> None:
    life = stores.lifecycle
    assert life is not None
    a, b = AgentId.new(), AgentId.new()
    with pytest.raises(NotFound):
        life.heartbeat(a)
    life.register(a)
    start = clock.now
    clock.now += 5
    life.register(b)
    clock.now += 5
    life.heartbeat(a)
    info = life.info(a)
    assert (info.registered_at, info.last_heartbeat) == (start, start + 10)
    assert life.live(5) == sorted([a, b])  # b is exactly 5 s old: still live
    clock.now += 1
    assert life.live(5) == [a]
    life.deregister(a)
    life.deregister(a)
    with pytest.raises(NotFound):
        life.info(a)
    assert life.live(100) == [b]


def test_stores_persist_across_connections(shared_factory: Callable[[], Backend]) -> None:
    first = _open(shared_factory())
    assert first.generations is not None and first.credentials is not None
    first.generations.bump("g")
    first.credentials.put_secret("s", b"v")
    second = _open(shared_factory())
    assert second.generations is not None and second.credentials is not None
    assert second.generations.bump("g") == 2
    assert second.credentials.get_secret("s") == b"v"
