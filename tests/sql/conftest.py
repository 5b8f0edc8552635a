"""Backends the SQL substrate tests run on.

Each factory takes a fresh folder and returns an empty backend. A SQL driver adds its own
(the PostgreSQL one, a fresh schema per test) to ``BACKENDS``; a test asks for
``backend`` and runs once per entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentstore.sql import Backend, Dialect, SqlLogStore

BackendFactory = Callable[[Path], Backend]


def _sqlite_file(tmp: Path) -> Backend:
    from agentstore_sqlite.backend import open_file

    return open_file(tmp / "substrate.db")


def _sqlite_memory(tmp: Path) -> Backend:
    from agentstore_sqlite.backend import open_memory

    return open_memory()


def _postgres(tmp: Path) -> Backend:
    from pg_substrate import postgres_backend

    return postgres_backend(tmp)


BACKENDS: dict[str, BackendFactory] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
    "postgres": _postgres,
}
SHARED: set[str] = {"sqlite-file", "postgres"}
"""Backends where a second factory call opens the same database (another connection)."""


@pytest.fixture(params=sorted(BACKENDS))
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _factory(name: str, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    opened: list[Backend] = []
    factory = BACKENDS[name]

    def make() -> Backend:
        b = factory(tmp_path)
        opened.append(b)
        return b

    yield make
    for b in opened:
        b.close()


@pytest.fixture
def backend_factory(backend_name: str, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    """Opens backends on one fresh database (see SHARED for whether calls share it)."""
    yield from _factory(backend_name, tmp_path)


@pytest.fixture(params=sorted(SHARED))
def shared_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Backend]]:
    """Opens connections to one fresh database, for tests that need two of them."""
    yield from _factory(str(request.param), tmp_path)


@pytest.fixture
def backend(backend_factory: Callable[[], Backend]) -> Backend:
    return backend_factory()


@pytest.fixture
def sqlite_file_backend(tmp_path: Path) -> Iterator[Backend]:
    """An empty SQLite file, for tests of what only SQLite's schema does."""
    backend = _sqlite_file(tmp_path)
    yield backend
    backend.close()


def log_store_class(backend: Backend) -> type[SqlLogStore]:
    """The log store a driver of ``backend`` serves: PostgreSQL's keeps positions in its
    own columns (``tx``, ``idx``), so its driver's store reads them."""
    if backend.dialect is Dialect.POSTGRES:
        from agentstore_postgres.logs import PgLogStore

        return PgLogStore
    return SqlLogStore
