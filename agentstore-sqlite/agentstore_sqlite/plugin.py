"""Registers the ``sqlite`` driver. Importing this module does not import sqlite3."""

from __future__ import annotations

from collections.abc import Callable

from agentstore import DriverSpec, DriverStores, OpenContext, hookimpl

from agentstore_sqlite.config import SqliteConfig


def _open(config: SqliteConfig, context: OpenContext) -> DriverStores:
    from agentstore_sqlite.driver import open_stores

    return open_stores(config, context)


# Under agentstore.aio, verify leaves long chains to worker processes (see agentstore_sqlite.aio).
_open.agentstore_aio = "agentstore_sqlite.aio:open_native"  # type: ignore[attr-defined]


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="sqlite",
            open=_open,
            config_model=SqliteConfig,
            description="a local SQLite file (the embedded default); safe across processes",
            conformance="agentstore_sqlite.conformance:SUPPORT",
            cross_process=True,
        )
    )
