"""The seven capabilities on Redis (all but ``lifecycle``).

Keys, all under the configured prefix ``P``:

==================================  ======  =================================================
``P gen``                           hash    generation name -> value
``P log:<name>``                    list    one element per entry, in seq order (see _pack)
``P logs``                          set     the ``<name>`` of every log written
``P heads``                         hash    ``<name>`` -> the log's head (seq, content hash)
``P policies``                      hash    agent id -> policy document JSON
``P sessions``                      hash    session id -> {"agent_id", "data"} JSON
``P secrets``                       hash    secret name -> value bytes
``P rates``                         hash    rate-limit key -> count in its window
``P rate_ends``                     hash    rate-limit key -> when its window ends (seconds)
``P store``                         string  marks the prefix as holding a store (set on open)
==================================  ======  =================================================

A log's ``<name>`` is ``<length of stream>:<stream>:<writer>``: readable in redis-cli, and
unambiguous whatever characters the names hold.

Appends are compare-and-set: the client reads the recorded head, hashes the new entries
(BLAKE3 cannot run inside Redis) and a Lua script pushes them, and records their last as
the head, only if the log still has the length and head the client saw; otherwise the
client reads again and retries. Redis runs each script atomically, so appends from any
number of threads and processes serialize. Appends build on the recorded head, and
verify checks the stored entries against it, so a deleted last entry is reported, never
silently replaced.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, ParamSpec, TypeVar, cast

import redis
from agentstore import (
    AgentId,
    BackendUnavailable,
    CredentialStore,
    Entry,
    GenerationStore,
    InvalidInput,
    NonMonotonicGeneration,
    PolicyDocument,
    PolicyStore,
    RateLimitCounter,
    SessionId,
    SessionRecord,
    SessionStore,
    StoreError,
    StoreNotFound,
    WriterLogStore,
    chain_hash,
)
from agentstore.capabilities import Clock
from agentstore.driver import DriverStores, LogAuditSink, OpenContext
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agentstore_redis.config import RedisConfig

MAX_GENERATION: Final = 2**63 - 1
"""Redis integers are signed 64-bit."""
BATCH: Final = 500
_HEADER = struct.Struct(">QB")  # seq, length of prev_hash (0 for genesis, else 32)

P = ParamSpec("P")
T = TypeVar("T")

# Push ARGV[5..] if the log holds exactly ARGV[1] entries and its recorded head is ARGV[3]
# ('' for none), recording ARGV[4] as its head; else return its length.
# Pushed in chunks: unpack() of the whole batch overflows Lua's stack (about 8,000 values).
_APPEND_LUA: Final = """
local n = redis.call('LLEN', KEYS[1])
local head = redis.call('HGET', KEYS[3], ARGV[2]) or ''
if n ~= tonumber(ARGV[1]) or head ~= ARGV[3] then return n end
for i = 5, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
return -1
"""
_HEAD = struct.Struct(">Q32s")  # a recorded head: seq, content hash

# Add ARGV[3] to rate-limit key ARGV[1] at time ARGV[2], opening a window that ends at
# ARGV[4] when the key's has ended; return the total as text, or false when it would pass
# 2**63-1 (HINCRBY refuses that, changing nothing). Totals travel as text: Lua numbers are
# doubles and lose precision.
_INCREMENT_LUA: Final = """
local ends = redis.call('HGET', KEYS[2], ARGV[1])
if not ends or tonumber(ends) <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
  return ARGV[3]
end
local added = redis.pcall('HINCRBY', KEYS[1], ARGV[1], ARGV[3])
if type(added) == 'table' and added.err then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
"""

# Set generation ARGV[1] to ARGV[2] unless that moves it back; return {moved, current}.
# Values are compared as decimal strings: Lua numbers are doubles and lose precision.
_ADVANCE_LUA: Final = """
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
local new = ARGV[2]
if #new < #cur or (#new == #cur and new < cur) then return {0, cur} end
redis.call('HSET', KEYS[1], ARGV[1], new)
return {1, new}
"""


def log_name(stream: str, writer: str) -> str:
    """The unambiguous name of a log in its key and in the index set."""
    return f"{len(stream)}:{stream}:{writer}"


def parse_log_name(name: str) -> tuple[str, str]:
    length, _, rest = name.partition(":")
    n = int(length)
    return rest[:n], rest[n + 1 :]


def pack_entry(entry: Entry) -> bytes:
    """The stored form of ``entry`` (for the conformance suite's tamper hook)."""
    return _pack(entry.seq, entry.prev_hash, entry.content_hash, entry.payload)


def _pack(seq: int, prev: bytes | None, content: bytes, payload: bytes) -> bytes:
    prev = prev or b""
    return _HEADER.pack(seq, len(prev)) + prev + content + payload


def _unpack(stream: str, writer: str, raw: bytes) -> Entry:
    seq, prev_len = _HEADER.unpack_from(raw)
    at = _HEADER.size
    prev = raw[at : at + prev_len] if prev_len else None
    at += prev_len
    return Entry(stream, writer, seq, raw[at + 32 :], prev, raw[at : at + 32])


class _Client:
    """One redis client, its scripts, and the translation of its errors."""

    def __init__(self, config: RedisConfig) -> None:
        url = config.url.get_secret_value()
        self.redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=config.connect_timeout,
            socket_timeout=config.socket_timeout,
        )
        kwargs = self.redis.connection_pool.connection_kwargs
        self.where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.prefix = config.prefix.encode()
        self.append_script = self.redis.register_script(_APPEND_LUA)
        self.advance_script = self.redis.register_script(_ADVANCE_LUA)
        self.increment_script = self.redis.register_script(_INCREMENT_LUA)
        self.closed = False

    def key(self, kind: str, name: str = "") -> bytes:
        return self.prefix + (f"{kind}:{name}" if name else kind).encode()

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one redis call, translating its errors (never quoting a value); after
        :meth:`close`, raise StoreError instead."""
        if self.closed:
            raise StoreError(f"redis at {self.where}: the store is closed")
        try:
            return fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise BackendUnavailable(
                f"redis at {self.where} is unavailable: {type(exc).__name__}: {exc}"
            ) from exc
        except RedisError as exc:
            raise StoreError(f"redis at {self.where} refused a command: {exc}") from exc

    def close(self) -> None:
        self.closed = True
        self.redis.close()


class RedisGenerationStore(GenerationStore):
    def __init__(self, client: _Client) -> None:
        self._c = client
        self._key = client.key("gen")

    def _current(self, name: str) -> int:
        value = self._c.call(self._c.redis.hget, self._key, name)
        return 0 if value is None else int(value)

    def _bump(self, name: str) -> int:
        return int(self._c.call(self._c.redis.hincrby, self._key, name, 1))

    def _advance_to(self, name: str, value: int) -> int:
        if value > MAX_GENERATION:
            raise InvalidInput(f"value must be at most {MAX_GENERATION} (a signed 64-bit integer)")
        moved, current = self._c.call(
            self._c.advance_script, keys=[self._key], args=[name, str(value)]
        )
        if not moved:
            raise NonMonotonicGeneration(name, int(current), value)
        return value


class RedisLogStore(WriterLogStore):
    def __init__(self, client: _Client) -> None:
        self._c = client
        self._index = client.key("logs")
        self._heads = client.key("heads")

    def log_key(self, stream: str, writer: str) -> bytes:
        """The key of a log's list (for the conformance suite's tamper hook)."""
        return self._log_key(stream, writer)

    @property
    def raw_client(self) -> redis.Redis:
        """The redis client, bypassing every check (for the tamper hook only)."""
        return self._c.redis

    def _log_key(self, stream: str, writer: str) -> bytes:
        return self._c.key("log", log_name(stream, writer))

    def _append(self, stream: str, writer: str, payload: bytes) -> Entry:
        return self._append_many(stream, writer, [payload])[0]

    def _append_many(self, stream: str, writer: str, payloads: Sequence[bytes]) -> list[Entry]:
        key = self._log_key(stream, writer)
        member = log_name(stream, writer).encode()
        while True:
            length, recorded, (seq, prev) = self._read_head(key, member)
            entries: list[Entry] = []
            for payload in payloads:
                seq += 1
                content = chain_hash(prev, payload)
                entries.append(Entry(stream, writer, seq, payload, prev, content))
                prev = content
            packed = [_pack(e.seq, e.prev_hash, e.content_hash, e.payload) for e in entries]
            head = _HEAD.pack(seq, entries[-1].content_hash)
            result = self._c.call(
                self._c.append_script,
                keys=[key, self._index, self._heads],
                args=[length, member, recorded, head, *packed],
            )
            if int(result) == -1:
                return entries
            # another writer appended since we read the head: read it again

    def _read_head(self, key: bytes, member: bytes) -> tuple[int, bytes, tuple[int, bytes | None]]:
        """The log's length, its recorded head as stored (b"" for none), and the head to
        build on: the recorded one, or for a log written before heads were recorded, its
        last entry."""
        pipe = self._c.redis.pipeline(transaction=True)
        pipe.llen(key)
        pipe.hget(self._heads, member)
        pipe.lindex(key, -1)
        length, recorded, raw = self._c.call(pipe.execute)
        if recorded is not None:
            seq, digest = _HEAD.unpack(recorded)
            return int(length), bytes(recorded), (seq, digest)
        if raw is None:
            return int(length), b"", (0, None)
        last = _unpack("", "", raw)
        return int(length), b"", (last.seq, last.content_hash)

    def _recorded_head(self, stream: str, writer: str) -> tuple[int, bytes | None]:
        # WriterLogStore's default verify checks the stored entries against this head.
        raw = self._c.call(self._c.redis.hget, self._heads, log_name(stream, writer))
        if raw is None:
            return 0, None
        seq, digest = _HEAD.unpack(cast(bytes, raw))
        return seq, digest

    def _head(self, stream: str, writer: str) -> Entry | None:
        raw = self._c.call(self._c.redis.lindex, self._log_key(stream, writer), -1)
        return None if raw is None else _unpack(stream, writer, cast(bytes, raw))

    def _entries(self, stream: str, writer: str, after: int) -> Iterator[Entry]:
        key = self._log_key(stream, writer)
        start = after
        while True:
            chunk = self._c.call(self._c.redis.lrange, key, start, start + BATCH - 1)
            for raw in chunk:
                yield _unpack(stream, writer, cast(bytes, raw))
            if len(chunk) < BATCH:
                return
            start += BATCH

    def _logs(self) -> Iterator[tuple[str, str]]:
        members = self._c.call(self._c.redis.smembers, self._index)
        pairs = sorted(parse_log_name(cast(bytes, m).decode()) for m in members)
        pipe = self._c.redis.pipeline(transaction=False)
        for stream, writer in pairs:
            pipe.llen(self._log_key(stream, writer))
        lengths = self._c.call(pipe.execute) if pairs else []
        recorded = self._c.call(self._c.redis.hkeys, self._heads)
        with_head = {parse_log_name(cast(bytes, m).decode()) for m in recorded}
        for (stream, writer), n in zip(pairs, lengths, strict=True):
            if n or (stream, writer) in with_head:  # a log emptied behind our back too
                yield stream, writer

    def __repr__(self) -> str:
        return f"<RedisLogStore at {self._c.where}>"


class RedisPolicyStore(PolicyStore):
    def __init__(self, client: _Client) -> None:
        self._c = client
        self._key = client.key("policies")

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        self._c.call(self._c.redis.hset, self._key, str(agent_id), document.to_json())

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        raw = self._c.call(self._c.redis.hget, self._key, str(agent_id))
        return None if raw is None else PolicyDocument.from_json(raw)

    def _invalidate(self, agent_id: AgentId) -> None:
        self._c.call(self._c.redis.hdel, self._key, str(agent_id))


class RedisSessionStore(SessionStore):
    def __init__(self, client: _Client) -> None:
        self._c = client
        self._key = client.key("sessions")

    def _save(self, record: SessionRecord) -> None:
        doc: dict[str, Any] = {"agent_id": str(record.agent_id), "data": record.data}
        self._c.call(
            self._c.redis.hset, self._key, str(record.session_id), json.dumps(doc, sort_keys=True)
        )

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        raw = self._c.call(self._c.redis.hget, self._key, str(session_id))
        if raw is None:
            return None
        doc = json.loads(raw)
        return SessionRecord(session_id, AgentId.parse(doc["agent_id"]), doc["data"])

    def _delete(self, session_id: SessionId) -> None:
        self._c.call(self._c.redis.hdel, self._key, str(session_id))


class RedisCredentialStore(CredentialStore):
    def __init__(self, client: _Client) -> None:
        self._c = client
        self._key = client.key("secrets")

    def _put_secret(self, name: str, value: bytes) -> None:
        self._c.call(self._c.redis.hset, self._key, name, value)

    def _get_secret(self, name: str) -> bytes | None:
        return cast(bytes | None, self._c.call(self._c.redis.hget, self._key, name))

    def _delete_secret(self, name: str) -> None:
        self._c.call(self._c.redis.hdel, self._key, name)

    def __repr__(self) -> str:
        return f"<RedisCredentialStore at {self._c.where}>"


class RedisRateLimitCounter(RateLimitCounter):
    """Fixed windows in two hashes (counts, window ends); an increment is one script."""

    def __init__(self, client: _Client, clock: Clock) -> None:
        super().__init__(clock)
        self._c = client
        self._keys = [client.key("rates"), client.key("rate_ends")]

    def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
        total = self._c.call(
            self._c.increment_script,
            keys=self._keys,
            args=[key, repr(now), str(amount), repr(now + window_secs)],
        )
        if total is None:
            self._refuse_total(key, amount)
        return int(total)

    def _current(self, key: str, now: float) -> int:
        pipe = self._c.redis.pipeline(transaction=True)
        pipe.hget(self._keys[0], key)
        pipe.hget(self._keys[1], key)
        count, ends = self._c.call(pipe.execute)
        if count is None or ends is None or now >= float(ends):
            return 0
        return int(count)

    def _reset(self, key: str) -> None:
        pipe = self._c.redis.pipeline(transaction=True)
        pipe.hdel(self._keys[0], key)
        pipe.hdel(self._keys[1], key)
        self._c.call(pipe.execute)


# Keys any store under a prefix has had: the marker, and (for stores written before the
# marker) every key a write creates.
_STORE_KEYS: Final = (
    "store",
    "gen",
    "logs",
    "heads",
    "policies",
    "sessions",
    "secrets",
    "rates",
    "rate_ends",
)


def open_redis(config: RedisConfig, context: OpenContext) -> DriverStores:
    """Stores on the server ``config`` names, checked reachable before returning.

    Opening marks the prefix as holding a store (key ``P store``), so a store left empty
    is still found; without ``context.create`` nothing is written, and a prefix holding
    no store is refused.

    Raises:
        BackendUnavailable: the server cannot be reached within ``connect_timeout``
            (naming host and port, never the password).
        StoreNotFound: ``context.create`` is False and the prefix holds no store.
    """
    client = _Client(config)
    try:
        client.call(client.redis.ping)
        if context.create:
            client.call(client.redis.set, client.key("store"), b"1", nx=True)
        elif not client.call(client.redis.exists, *(client.key(k) for k in _STORE_KEYS)):
            raise StoreNotFound(
                f"redis at {client.where}, prefix {config.prefix!r}, holds no agentstore "
                "store; check prefix in [store.redis]. Nothing was created."
            )
    except BaseException:
        client.close()
        raise
    caps = context.capabilities
    logs = RedisLogStore(client)
    return DriverStores(
        generations=RedisGenerationStore(client) if "generations" in caps else None,
        logs=logs if "logs" in caps else None,
        audit=LogAuditSink(logs) if "audit" in caps else None,
        policies=RedisPolicyStore(client) if "policies" in caps else None,
        sessions=RedisSessionStore(client) if "sessions" in caps else None,
        credentials=RedisCredentialStore(client) if "credentials" in caps else None,
        rate_limits=RedisRateLimitCounter(client, context.clock) if "rate_limits" in caps else None,
        close=client.close,
    )
