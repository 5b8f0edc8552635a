"""Registers the ``postgres`` driver. Importing this module does not import psycopg."""

from __future__ import annotations

from collections.abc import Callable

from agentstore import DriverSpec, DriverStores, OpenContext, hookimpl

from agentstore_postgres.config import PostgresConfig


def _open(config: PostgresConfig, context: OpenContext) -> DriverStores:
    # psycopg is imported here, when a store is opened, never at discovery.
    from agentstore_postgres.driver import open_driver

    return open_driver(config, context)


# Generations and logs native to agentstore.aio on an AsyncConnectionPool (agentstore_postgres.aio).
_open.agentstore_aio = "agentstore_postgres.aio:open_native"  # type: ignore[attr-defined]


SPEC_DESCRIPTION = "PostgreSQL via psycopg 3, pooled; a server you already run"


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="postgres",
            open=_open,
            config_model=PostgresConfig,
            description=SPEC_DESCRIPTION,
            conformance="agentstore_postgres.conformance:SUPPORT",
            cross_process=True,
        )
    )
