"""Registers the ``memory`` driver; importing this module imports nothing heavy."""

from __future__ import annotations

from collections.abc import Callable

from agentstore import DriverSpec, DriverStores, OpenContext, hookimpl
from agentstore.registry import NoConfig


def _open(config: NoConfig, context: OpenContext) -> DriverStores:
    from agentstore_memory.stores import open_memory

    return open_memory(context)


# Native to agentstore.aio: calls run on the event loop (see agentstore.aio._driver).
_open.agentstore_aio = "agentstore_memory.aio:open_native"  # type: ignore[attr-defined]


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="memory",
            open=_open,
            config_model=NoConfig,
            description="in-process, not persisted; the reference semantics",
            conformance="agentstore_memory.conformance:SUPPORT",
        )
    )
