"""What agentstore's conformance suite needs to know about the ``redis`` driver.

Imported only by the suite (``DriverSpec.conformance`` names it): each test gets a store
under a key prefix of its own, deleted afterwards, and the tamper-detection tests edit
the stored log elements directly on the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from agentstore import Entry, Store
from agentstore.driver import ConformanceSupport, Section, resolve_env

from agentstore_redis.config import RedisConfig
from agentstore_redis.stores import RedisLogStore, pack_entry

_DELETED = b"__agentstore_conformance_deleted__"


def _fresh_section(section: Section, tmp_path: Path) -> Iterator[Section]:
    base = RedisConfig.model_validate(resolve_env(dict(section), "store.redis"))
    prefix = f"{base.prefix}conformance-{uuid.uuid4().hex[:12]}:"
    yield {**section, "prefix": prefix}
    client = redis.Redis.from_url(
        base.url.get_secret_value(), socket_connect_timeout=base.connect_timeout
    )
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _tamper(store: Store, stream: str, writer: str, seq: int, entry: Entry | None) -> None:
    logs = store.capability("logs")
    if not isinstance(logs, RedisLogStore):
        raise NotImplementedError("the logs capability is not served by the redis driver")
    # redis-py's annotations say str; it sends bytes unchanged, which binary entries need.
    client: Any = logs.raw_client
    key = logs.log_key(stream, writer)
    if entry is None:
        client.lset(key, seq - 1, _DELETED)
        client.lrem(key, 1, _DELETED)
    else:
        client.lset(key, seq - 1, pack_entry(entry))


SUPPORT = ConformanceSupport(persistent=True, fresh_section=_fresh_section, tamper=_tamper)
