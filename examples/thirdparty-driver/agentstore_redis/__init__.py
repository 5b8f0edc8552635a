"""agentstore driver ``redis``: all eight capabilities on a Redis server.

It supplies the four primitives of agentstore's key-value substrate (get, scan, commit,
close) on Redis; the substrate builds every capability on them. Select it with::

    [store]
    backend = "redis"

    [store.redis]
    url = { env = "AGENTSTORE_REDIS_URL" }     # default redis://127.0.0.1:6379/0
"""

from agentstore_redis.config import RedisConfig

__version__ = "0.1.0"

__all__ = ["RedisConfig"]
