"""agentstore driver ``redis``: seven capabilities kept natively on a Redis server.

Provides ``generations``, ``logs``, ``audit``, ``policies``, ``sessions``,
``credentials`` and ``rate_limits``; route ``lifecycle`` to another driver under
``[store.capabilities]``. Select it with::

    [store]
    backend = "sqlite"

    [store.capabilities]
    generations = "redis"
    logs = "redis"

    [store.redis]
    url = { env = "AGENTSTORE_REDIS_URL" }     # default redis://127.0.0.1:6379/0
"""

from agentstore_redis.config import RedisConfig

__version__ = "0.1.0"

__all__ = ["RedisConfig"]
