"""Registers the ``sqlite`` driver: a declaration; importing it does not import sqlite3."""

from __future__ import annotations

from collections.abc import Callable

from agentstore.driver import DriverSpec, hookimpl

from agentstore_sqlite.config import SqliteConfig


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="sqlite",
            open="agentstore_sqlite.driver:open_driver",
            config_model=SqliteConfig,
            description="a local SQLite file (the embedded default); safe across processes",
            conformance="agentstore_sqlite.conformance:SUPPORT",
            cross_process=True,
            aio="agentstore_sqlite.aio:open_native",
        )
    )
