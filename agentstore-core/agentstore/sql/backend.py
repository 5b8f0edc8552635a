"""The small protocol every SQL driver implements; the core builds all capabilities on it.

A driver supplies connections, transactions, its placeholder style and the few statements
where dialects differ (:class:`Dialect`). It never re-implements capability logic.

SQL handed to a backend is written with ``?`` placeholders; a backend whose client library
uses another style translates it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, TypeAlias, runtime_checkable

Value: TypeAlias = int | float | str | bytes | None
"""A database-neutral value, for bind parameters and returned cells."""

Row: TypeAlias = tuple[Value, ...]


class Dialect(enum.Enum):
    """Which SQL dialect a backend speaks; used only where the portable subset falls short."""

    SQLITE = "sqlite"
    POSTGRES = "postgres"


@runtime_checkable
class Backend(Protocol):
    """A synchronous, thread-safe SQL connection source.

    Statements run outside :meth:`transaction` commit on their own. Inside
    ``with backend.transaction():`` every statement issued by the same thread runs in that
    one transaction, committed when the block exits normally and rolled back when it raises.

    Errors: a unique-key violation raises :class:`~agentstore.errors.Conflict`; a lost
    connection or unreachable server :class:`~agentstore.errors.BackendUnavailable`; any
    other database failure :class:`~agentstore.errors.StoreError`. The client library's
    exception is kept as ``__cause__``.
    """

    dialect: Dialect

    def exec(self, sql: str, params: Sequence[Value] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def exec_many(self, sql: str, rows: Sequence[Sequence[Value]]) -> None:
        """Run one statement once per parameter row, in one round trip where possible."""
        ...

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        """Run a query and return all its rows."""
        ...

    def stream(self, sql: str, params: Sequence[Value] = (), batch: int = 1000) -> Iterator[Row]:
        """Run a query and yield its rows without holding them all in memory."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction scope for the calling thread (see the class docstring)."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...
