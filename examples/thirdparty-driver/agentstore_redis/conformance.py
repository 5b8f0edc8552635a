"""What agentstore's conformance suite needs to know about the ``redis`` driver.

Imported only by the suite (``DriverSpec.conformance`` names it): each test gets a store
under a key prefix of its own, deleted afterwards. The tamper-detection tests use the
key-value substrate's own hook.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import redis
from agentstore.driver import ConformanceSupport, Section, resolve_env

from agentstore_redis.config import RedisConfig


def _fresh_section(section: Section, tmp_path: Path) -> Iterator[Section]:
    base = RedisConfig.model_validate(resolve_env(dict(section), "store.redis"))
    prefix = f"{base.prefix}conformance-{uuid.uuid4().hex[:12]}:"
    yield {**section, "prefix": prefix}
    client = redis.Redis.from_url(
        base.url.get_secret_value(), socket_connect_timeout=base.connect_timeout
    )
    try:
        client.delete(f"{prefix}keys", f"{prefix}values")
    finally:
        client.close()


SUPPORT = ConformanceSupport(persistent=True, fresh_section=_fresh_section)
