"""Registers the ``redis`` driver. Importing this module does not import redis."""

from __future__ import annotations

from collections.abc import Callable

from agentstore import CapabilityName
from agentstore.driver import DriverSpec, DriverStores, OpenContext, hookimpl

from agentstore_redis.config import RedisConfig

CAPABILITIES: frozenset[CapabilityName] = frozenset(
    {"generations", "logs", "audit", "policies", "sessions", "credentials", "rate_limits"}
)


def _open(config: RedisConfig, context: OpenContext) -> DriverStores:
    from agentstore_redis.stores import open_redis  # redis is imported only here

    return open_redis(config, context)


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="redis",
            open=_open,
            capabilities=CAPABILITIES,
            config_model=RedisConfig,
            description="a Redis server: logs, generations, governance stores and rate limits",
            conformance="agentstore_redis.conformance:SUPPORT",
            cross_process=True,
        )
    )
