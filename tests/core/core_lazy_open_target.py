"""A driver open function named by a string; tests check it is imported only on open."""

from __future__ import annotations

from agentstore.driver import DriverStores, OpenContext

NOT_CALLABLE = 3


def open_driver(config: object, context: OpenContext) -> DriverStores:
    from agentstore_memory import open_memory

    return open_memory(context)
