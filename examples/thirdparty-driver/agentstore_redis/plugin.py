"""Registers the ``redis`` driver. Importing this module does not import redis."""

from __future__ import annotations

from collections.abc import Callable

from agentstore import DriverSpec, DriverStores, OpenContext, hookimpl

from agentstore_redis.config import RedisConfig


def _open(config: RedisConfig, context: OpenContext) -> DriverStores:
    from agentstore_redis.keyvalue import open_redis  # redis is imported only here

    return open_redis(config, context)


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="redis",
            open=_open,
            config_model=RedisConfig,
            description="a Redis server: every capability, on agentstore's key-value substrate",
            conformance="agentstore_redis.conformance:SUPPORT",
            cross_process=True,
        )
    )
