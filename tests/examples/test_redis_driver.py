"""The example third-party driver, agentstore-redis, against the real Redis server.

The conformance suite checks it by name (``pytest --agentstore-driver redis``); these
tests add what is particular to it: its two keys per prefix, the compare-and-set append
under threads, processes and a SIGKILL, edits made on the server, and what the error
messages hold.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import agentstore
import pytest
import redis
from agentstore import (
    CAPABILITIES,
    AgentId,
    BackendUnavailable,
    ChainBroken,
    InvalidInput,
    InvalidPolicy,
    NonMonotonicGeneration,
    NotFound,
    PolicyDocument,
    SessionId,
    SessionRecord,
    StorePolicy,
    chain_hash,
)
from agentstore.kv import keys


def _client(url: str = "redis://127.0.0.1:6379/0") -> redis.Redis:
    return redis.Redis.from_url(url)


def test_it_is_discovered_through_its_entry_point() -> None:
    spec = agentstore.Registry().get("redis")
    assert spec.distribution == "agentstore-redis"
    assert set(spec.capabilities) == set(CAPABILITIES)
    assert spec.cross_process and spec.tamper_evident


def test_discovery_imports_no_redis_client_and_not_the_substrate() -> None:
    code = (
        "import sys, agentstore; reg = agentstore.Registry(); assert 'redis' in reg.drivers; "
        "import agentstore_redis.plugin; "
        "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'redis' "
        "or m == 'agentstore.kv'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_chain_is_byte_compatible_and_persistent(redis_policy: StorePolicy) -> None:
    with agentstore.open(redis_policy) as store:
        log = store.log("conv:demo", "alice")
        first = log.append(b"hello world")
        rest = log.append_many([b"two", b"three"])
        assert log.append_many([]) == []
        assert first.prev_hash is None
        assert first.content_hash == chain_hash(None, b"hello world")
        assert [e.seq for e in rest] == [2, 3]
        assert rest[0].prev_hash == first.content_hash
        assert rest[1].content_hash == chain_hash(rest[0].content_hash, b"three")
        assert store.generation("report").bump() == 1
    with agentstore.open(redis_policy) as again:
        log = again.log("conv:demo", "alice")
        assert [e.payload for e in log.entries()] == [b"hello world", b"two", b"three"]
        assert [e.seq for e in log.entries(after=2)] == [3]
        assert log.head() == rest[1]
        assert log.verify() == 3
        assert again.generation("report").current() == 1
        assert again.logs() == [("conv:demo", "alice")]


def test_entries_stream_in_batches(redis_policy: StorePolicy) -> None:
    with agentstore.open(redis_policy) as store:
        log = store.log("s", "w")
        log.append_many([b"%d" % i for i in range(1234)])
        assert [e.seq for e in log.entries(after=499)] == list(range(500, 1235))
        assert log.verify() == 1234


def test_a_batch_of_ten_thousand_is_one_append(redis_policy: StorePolicy) -> None:
    # One commit script with over 20,000 arguments: far beyond Lua's stack (about 8,000).
    payloads = [f"b{i}".encode() for i in range(10_000)]
    with agentstore.open(redis_policy) as store:
        log = store.log("bulk", writer="w")
        log.append(b"first")
        entries = log.append_many(payloads)
        assert [e.seq for e in entries] == list(range(2, 10_002))
        assert log.verify() == 10_001
        assert [e.payload for e in log.entries(after=1)] == payloads


def test_prefixes_are_separate_stores(redis_policy: StorePolicy, redis_prefix: str) -> None:
    other = StorePolicy(
        "memory",
        capabilities={"logs": "redis"},
        sections={"redis": {"prefix": redis_prefix + "other:"}},
    )
    with agentstore.open(redis_policy) as a, agentstore.open(other) as b:
        a.log("s", "w").append(b"in a")
        assert b.logs() == []
        assert b.log("s", "w").head() is None


def test_odd_names_round_trip(redis_policy: StorePolicy) -> None:
    names = [("a:b", "c"), ("a", "b:c"), ("ünï:c0de", "w r i t e r"), ("1:x", "y")]
    with agentstore.open(redis_policy) as store:
        for stream, writer in names:
            store.log(stream, writer).append(stream.encode())
        assert store.logs() == sorted(names)
        assert next(store.log("a:b", "c").entries()).payload == b"a:b"


def test_concurrent_appends_from_threads_serialize(redis_policy: StorePolicy) -> None:
    threads_n, each = 8, 40
    with agentstore.open(redis_policy) as store:
        log = store.log("race", "shared")
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for i in range(each):
                    log.append(b"t%d-%d" % (t, i))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        entries = list(log.entries())
        assert [e.seq for e in entries] == list(range(1, threads_n * each + 1))
        assert len({e.payload for e in entries}) == threads_n * each
        assert log.verify() == threads_n * each


_WORKER = """
import sys, agentstore
from agentstore import StorePolicy
prefix, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
redis = {"redis": {"prefix": prefix}}
policy = StorePolicy("memory", capabilities={"logs": "redis"}, sections=redis)
with agentstore.open(policy) as store:
    log = store.log("race", "shared")
    for i in range(count):
        entry = log.append(f"{tag}-{i}".encode())
        print(entry.seq, flush=True)
"""


def test_concurrent_appends_from_processes_serialize(
    redis_policy: StorePolicy, redis_prefix: str
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_prefix, f"p{n}", "60"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    acked: list[int] = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        acked += [int(line) for line in out.split()]
    assert sorted(acked) == list(range(1, 181))
    with agentstore.open(redis_policy) as store:
        assert store.log("race", "shared").verify() == 180


def test_sigkill_loses_nothing_acknowledged(redis_policy: StorePolicy, redis_prefix: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, redis_prefix, "k", "1000000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) == 200:
            break
    proc.send_signal(signal.SIGKILL)
    # The rest through the same reader: communicate() would skip the lines it has buffered.
    acked += [int(line) for line in proc.stdout if line.endswith("\n")]
    proc.stdout.close()
    assert proc.wait(timeout=30) == -signal.SIGKILL
    with agentstore.open(redis_policy) as store:
        log = store.log("race", "shared")
        count = log.verify()  # whole and unbroken after the kill
        assert count >= len(acked) == acked[-1]
        stored = {e.seq: e.payload for e in log.entries()}
        assert all(stored[seq] == f"k-{seq - 1}".encode() for seq in acked)


def test_generations(redis_policy: StorePolicy) -> None:
    with agentstore.open(redis_policy) as store:
        gen = store.generation("clock")
        assert gen.current() == 0
        threads = [
            threading.Thread(target=lambda: [gen.bump() for _ in range(25)]) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gen.current() == 100
        assert gen.advance_to(100) == 100
        # beyond double precision: compared exactly
        assert gen.advance_to(2**53 + 1) == 2**53 + 1
        with pytest.raises(NonMonotonicGeneration):
            gen.advance_to(2**53)
        assert gen.current() == 2**53 + 1
        with pytest.raises(NonMonotonicGeneration):
            gen.advance_to(99)
        with pytest.raises(InvalidInput, match="64-bit"):
            gen.advance_to(2**63)
        assert gen.bump() == 2**53 + 2


def _entry_key(stream: str, writer: str, seq: int) -> bytes:
    return keys.key(keys.ENTRY, stream, writer) + keys.seq_bytes(seq)


def test_a_store_is_two_keys_under_its_prefix(redis_policy: StorePolicy, redis_prefix: str) -> None:
    with agentstore.open(redis_policy) as store:
        store.log("conv", "bob").append_many([b"one", b"two"])
        store.generation("g").bump()
        store.credentials.put_secret("api", b"hunter2")
    client = _client()
    try:
        found = sorted(client.keys(f"{redis_prefix}*"))
        assert found == [f"{redis_prefix}keys".encode(), f"{redis_prefix}values".encode()]
        # every key of the hash is in the sorted set, ordered bytewise, and nothing else is
        stored = sorted(client.hkeys(f"{redis_prefix}values"))
        assert client.zrange(f"{redis_prefix}keys", 0, -1) == stored
        assert _entry_key("conv", "bob", 2) in stored
    finally:
        client.close()


def test_tampering_on_the_server_is_caught_at_its_seq(
    redis_policy: StorePolicy, redis_prefix: str
) -> None:
    client = _client()
    values = f"{redis_prefix}values"
    with agentstore.open(redis_policy) as store:
        log = store.log("conv", "bob")
        log.append_many([b"one", b"two", b"three", b"four"])
        raw = client.hget(values, _entry_key("conv", "bob", 2))
        assert isinstance(raw, bytes) and raw.endswith(b"two")
        client.hset(values, _entry_key("conv", "bob", 2), raw[:-1] + b"X")
        with pytest.raises(ChainBroken) as broken:
            log.verify()
        assert (broken.value.stream, broken.value.writer, broken.value.seq) == ("conv", "bob", 2)

        client.hset(values, _entry_key("conv", "bob", 2), raw)  # restore, then delete seq 3
        assert log.verify() == 4
        seq3 = client.hget(values, _entry_key("conv", "bob", 3))
        assert isinstance(seq3, bytes)
        client.hdel(values, _entry_key("conv", "bob", 3))
        client.zrem(f"{redis_prefix}keys", _entry_key("conv", "bob", 3))
        with pytest.raises(ChainBroken) as gap:
            log.verify()
        assert gap.value.seq == 3

        # The two keys out of step: a value the sorted set does not list is not there...
        client.hset(values, _entry_key("conv", "bob", 3), seq3)
        with pytest.raises(ChainBroken) as unlisted:
            log.verify()
        assert unlisted.value.seq == 3
        client.zadd(f"{redis_prefix}keys", {_entry_key("conv", "bob", 3): 0})
        assert log.verify() == 4
        # ...and a key it lists without a value is a broken entry.
        client.hdel(values, _entry_key("conv", "bob", 4))
        with pytest.raises(ChainBroken) as valueless:
            log.verify()
        assert valueless.value.seq == 4
    client.close()


def test_governance_stores(redis_policy: StorePolicy) -> None:
    agent = AgentId.new()
    session = SessionId.new()
    with agentstore.open(redis_policy) as store:
        with pytest.raises(NotFound):
            store.policies.get(agent)
        store.policies.put(agent, PolicyDocument({"allow": ["read"], "n": 1}))
        assert store.policies.get(agent).body == {"allow": ["read"], "n": 1}
        store.policies.invalidate(agent)
        store.policies.invalidate(agent)
        with pytest.raises(NotFound):
            store.policies.get(agent)

        record = SessionRecord(session, agent, {"step": 3, "tools": ["search"]})
        store.sessions.save(record)
        assert store.sessions.load(session) == record
        store.sessions.delete(session)
        store.sessions.delete(session)
        with pytest.raises(NotFound):
            store.sessions.load(session)

        secret = b"\x00\xffhunter2"
        store.credentials.put_secret("api-key", secret)
        assert store.credentials.get_secret("api-key") == secret
        assert "hunter2" not in repr(store.credentials)
        store.credentials.delete_secret("api-key")
        with pytest.raises(NotFound) as missing:
            store.credentials.get_secret("api-key")
        assert "hunter2" not in str(missing.value)

        record_ = store.audit.emit(agentstore.AuditEntry("policy.update", agent_id=agent))
        assert record_.seq == 1
        assert store.audit.verify() == 1


def test_rate_limits_keep_exact_64_bit_totals(redis_policy: StorePolicy) -> None:
    big = 2**63 - 2  # a double cannot hold it
    with agentstore.open(redis_policy) as store:
        assert store.rate_limits.increment("k", big, 60) == big
        assert store.rate_limits.increment("k", 1, 60) == big + 1
        with pytest.raises(InvalidInput, match="64-bit"):
            store.rate_limits.increment("k", 1, 60)
    with agentstore.open(redis_policy) as again:
        assert again.rate_limits.current("k") == big + 1


def test_unreachable_server_fails_fast_naming_host_and_port_only() -> None:
    policy = StorePolicy(
        "memory",
        capabilities={"logs": "redis"},
        sections={"redis": {"url": "redis://app:hunter2@127.0.0.1:1/0", "connect_timeout": 1.0}},
    )
    start = time.monotonic()
    with pytest.raises(BackendUnavailable) as exc:
        agentstore.open(policy)
    assert time.monotonic() - start < 5
    assert "127.0.0.1:1" in str(exc.value)
    assert "hunter2" not in str(exc.value)
    assert "hunter2" not in repr(policy)


def test_config_is_checked_and_the_url_is_secret() -> None:
    from agentstore_redis import RedisConfig

    config = RedisConfig.model_validate({"url": "redis://app:hunter2@db.internal:6379/2"})
    assert "hunter2" not in repr(config)
    with pytest.raises(InvalidPolicy, match=r"store\.redis\.prefx"):
        StorePolicy(
            "memory", capabilities={"logs": "redis"}, sections={"redis": {"prefx": "x:"}}
        ).resolve()
    with pytest.raises(InvalidPolicy, match=r"store\.redis\.url"):
        StorePolicy(
            "memory", capabilities={"logs": "redis"}, sections={"redis": {"url": "http://x"}}
        ).resolve()


def test_backend_redis_alone_serves_lifecycle_and_rate_limits_too(
    redis_policy: StorePolicy,
) -> None:
    clock = [1000.0]
    agent = AgentId.new()
    with agentstore.open(redis_policy, clock=lambda: clock[0]) as store:
        store.lifecycle.register(agent)
        assert store.rate_limits.increment("alice:search", 2, 60) == 2
    clock[0] += 30
    with agentstore.open(redis_policy, clock=lambda: clock[0]) as again:  # kept on the server
        assert again.lifecycle.live(ttl_secs=60) == [agent]
        assert again.lifecycle.live(ttl_secs=10) == []
        assert again.rate_limits.increment("alice:search", 1, 60) == 3
        again.lifecycle.heartbeat(agent)
        assert again.lifecycle.live(ttl_secs=10) == [agent]


def test_create_false_writes_nothing_and_finds_an_empty_store(
    redis_policy: StorePolicy, redis_prefix: str
) -> None:
    client = _client()
    try:
        for flags in ({"create": False}, {"read_only": True}):
            with pytest.raises(agentstore.StoreNotFound) as info:
                agentstore.open(redis_policy, **flags)
            assert "127.0.0.1:6379" in str(info.value)
            assert repr(redis_prefix) in str(info.value)
            assert "holds no agentstore store" in str(info.value)
        assert client.keys(f"{redis_prefix}*") == []
        agentstore.open(redis_policy).close()  # an empty store: only its format marker
        assert client.hlen(f"{redis_prefix}values") == 1
        with agentstore.open(redis_policy, create=False) as store:
            store.log("s", "w").append(b"x")
        with agentstore.open(redis_policy, read_only=True) as store:
            assert store.log("s", "w").verify() == 1
    finally:
        client.close()


def test_a_prefix_in_the_old_key_layout_is_left_alone(
    redis_policy: StorePolicy, redis_prefix: str
) -> None:
    client = _client()
    try:  # keys as versions before the key-value substrate wrote them
        client.set(f"{redis_prefix}store", b"1")
        client.hset(f"{redis_prefix}gen", "report", 7)
        with pytest.raises(agentstore.StoreNotFound):
            agentstore.open(redis_policy, create=False)
        with agentstore.open(redis_policy) as store:  # a new, empty store beside them
            assert store.generation("report").current() == 0
            assert store.generation("report").bump() == 1
        assert client.get(f"{redis_prefix}store") == b"1"
        assert client.hget(f"{redis_prefix}gen", "report") == b"7"
    finally:
        client.close()
