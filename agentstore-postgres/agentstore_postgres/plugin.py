"""Registers the ``postgres`` driver: a declaration; importing it does not import psycopg."""

from __future__ import annotations

from collections.abc import Callable

from agentstore.driver import DriverSpec, hookimpl

from agentstore_postgres.config import PostgresConfig

SPEC_DESCRIPTION = "PostgreSQL via psycopg 3, pooled; a server you already run"


@hookimpl
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    register(
        DriverSpec(
            name="postgres",
            open="agentstore_postgres.driver:open_driver",
            config_model=PostgresConfig,
            description=SPEC_DESCRIPTION,
            conformance="agentstore_postgres.conformance:SUPPORT",
            cross_process=True,
            aio="agentstore_postgres.aio:open_native",
        )
    )
