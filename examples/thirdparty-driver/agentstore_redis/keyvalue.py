"""The four primitives of agentstore's key-value substrate on a Redis server.

A store under prefix ``P`` is two Redis keys: ``P keys``, a sorted set of every key with
score 0 (so Redis orders it bytewise, and a range is one ``ZRANGEBYLEX``), and ``P values``,
a hash of key to value. A commit is one Lua script, which Redis runs atomically: it
checks every expected value and applies every write, or changes nothing. So commits are
linearizable across every client of the server, threads and processes alike, and the
substrate's capabilities are safe across processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, cast

import redis
from agentstore import BackendUnavailable, StoreError
from agentstore.driver import DriverStores, OpenContext
from agentstore.kv import Pair, open_kv_stores
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agentstore_redis.config import RedisConfig

log = logging.getLogger("agentstore.redis")

T = TypeVar("T")
Writes = Mapping[bytes, bytes | None]

# KEYS: the sorted set, the hash. ARGV: start, end, limit. Returns key, value, key, ...
_SCAN: Final = """
local found = redis.call(
  'ZRANGEBYLEX', KEYS[1], '[' .. ARGV[1], '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
local out = {}
for i, k in ipairs(found) do
  out[2 * i - 1] = k
  out[2 * i] = redis.call('HGET', KEYS[2], k)
end
return out
"""

# KEYS: the sorted set, the hash. ARGV[1]: how many expectations; then key, value pairs,
# the expectations first, then the writes. A value is '-' for none, or '=' and the bytes.
_COMMIT: Final = """
local n = tonumber(ARGV[1])
for i = 2, 2 * n, 2 do
  local have = redis.call('HGET', KEYS[2], ARGV[i])
  if (have and ('=' .. have) or '-') ~= ARGV[i + 1] then return 0 end
end
for i = 2 * n + 2, #ARGV, 2 do
  local k, v = ARGV[i], ARGV[i + 1]
  if v == '-' then
    redis.call('HDEL', KEYS[2], k)
    redis.call('ZREM', KEYS[1], k)
  else
    redis.call('HSET', KEYS[2], k, string.sub(v, 2))
    redis.call('ZADD', KEYS[1], 0, k)
  end
end
return 1
"""


def _tagged(pairs: Writes) -> list[bytes]:
    out: list[bytes] = []
    for k, v in pairs.items():
        out += (k, b"-" if v is None else b"=" + v)
    return out


class RedisKeyValue:
    """A :class:`agentstore.kv.KeyValue` on one Redis server, under one key prefix.

    Errors are translated: an unreachable server raises BackendUnavailable naming host
    and port (never the URL, which may hold a password), any other refusal StoreError.
    """

    def __init__(self, config: RedisConfig) -> None:
        self.redis = redis.Redis.from_url(
            config.url.get_secret_value(),
            socket_connect_timeout=config.connect_timeout,
            socket_timeout=config.socket_timeout,
        )
        kwargs = self.redis.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        self.location = f"redis at {where} under prefix {config.prefix!r}"
        prefix = config.prefix.encode()
        self.keys = [prefix + b"keys", prefix + b"values"]
        self._scan = self.redis.register_script(_SCAN)
        self._commit = self.redis.register_script(_COMMIT)

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise BackendUnavailable(
                f"{self.location} is unavailable: {type(exc).__name__}: {exc}"
            ) from exc
        except RedisError as exc:
            raise StoreError(f"{self.location} refused a command: {exc}") from exc

    def get(self, key: bytes) -> bytes | None:
        return cast(bytes | None, self._call(self.redis.hget, self.keys[1], key))

    def scan(self, start: bytes, end: bytes, limit: int) -> list[Pair]:
        flat = self._call(self._scan, keys=self.keys, args=[start, end, limit])
        return list(zip(flat[::2], flat[1::2], strict=True))

    def commit(self, expect: Writes, writes: Writes) -> bool:
        args = [len(expect), *_tagged(expect), *_tagged(writes)]
        return bool(self._call(self._commit, keys=self.keys, args=args))

    def close(self) -> None:
        self.redis.close()


def open_redis(config: RedisConfig, context: OpenContext) -> DriverStores:
    """Every capability ``context`` asks for, on the server ``config`` names.

    Raises:
        BackendUnavailable: the server cannot be reached within ``connect_timeout``
            (naming host and port, never the password).
        StoreNotFound: ``context.create`` is False and the prefix holds no store;
            nothing was written.
    """
    kv = RedisKeyValue(config)
    stores = open_kv_stores(kv, context, location=kv.location)
    log.info("opened %s", kv.location)
    closing = stores.close

    def close() -> None:
        closing()
        log.info("closed %s", kv.location)

    stores.close = close
    return stores
