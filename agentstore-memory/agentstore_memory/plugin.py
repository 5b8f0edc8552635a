"""Registers the ``memory`` driver: a declaration that imports nothing heavy."""

from __future__ import annotations

from collections.abc import Callable

from agentstore.driver import DriverSpec, NoConfig, hookimpl


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="memory",
            open="agentstore_memory.stores:open_driver",
            config_model=NoConfig,
            description="in-process, not persisted; the reference semantics",
            conformance="agentstore_memory.conformance:SUPPORT",
            aio="agentstore_memory.aio:open_native",
            persistent=False,
        )
    )
