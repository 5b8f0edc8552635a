"""Registers the ``redis`` driver. Importing this module does not import redis."""

from __future__ import annotations

from collections.abc import Callable

from agentstore.driver import DriverSpec, hookimpl

from agentstore_redis.config import RedisConfig


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="redis",
            open="agentstore_redis.keyvalue:open_redis",  # redis is imported only then
            config_model=RedisConfig,
            description="a Redis server: every capability, on agentstore's key-value substrate",
            conformance="agentstore_redis.conformance:SUPPORT",
            cross_process=True,
        )
    )
