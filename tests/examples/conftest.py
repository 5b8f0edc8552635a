"""Fixtures for the example scripts and the example third-party driver (agentstore-redis)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from agentstore import StorePolicy

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


def _redis_required() -> bool:
    """In CI the Redis tests must run: an unreachable server fails them instead."""
    return os.environ.get("CI") == "true" or os.environ.get("AGENTSTORE_TEST_REQUIRE_REDIS") == "1"


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The URL of the Redis server on 127.0.0.1:6379; skips (outside CI) when it is down."""
    redis = pytest.importorskip("redis")
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        reason = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({exc})"
        if _redis_required():
            pytest.fail(f"{reason}; CI requires it")
        pytest.skip(reason)
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    import redis

    prefix = f"agentstore-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_policy(redis_prefix: str) -> StorePolicy:
    """Every capability on agentstore-redis, under a prefix of this test's own."""
    return StorePolicy("redis", sections={"redis": {"prefix": redis_prefix}})
