"""The small protocol every SQL driver implements; the core builds all capabilities on it.

A driver supplies connections, transactions and its placeholder style, and, where its
dialect keeps the tables its own way, a ``schema_layout`` attribute naming an
:class:`agentstore.sql.schema.SchemaLayout`. It never re-implements capability logic.

SQL handed to a backend is written with ``?`` placeholders; a backend whose client library
uses another style translates it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol, TypeAlias, runtime_checkable

Value: TypeAlias = int | float | str | bytes | None
"""A database-neutral value, for bind parameters and returned cells."""

Row: TypeAlias = tuple[Value, ...]


class Dialect(enum.Enum):
    """Which SQL dialect a backend speaks; picks its schema layout when it names none."""

    SQLITE = "sqlite"
    POSTGRES = "postgres"


@runtime_checkable
class Backend(Protocol):
    """A synchronous, thread-safe SQL connection source.

    A statement run outside :meth:`transaction` is committed by the time the call returns
    (for :meth:`query`, once its rows are returned: an ``INSERT ... RETURNING`` is a write).
    Inside ``with backend.transaction():`` every statement issued by the same thread runs
    in that one transaction, committed when the block exits normally and rolled back when
    it raises. Nested scopes join the outer one.

    Errors: a unique-key violation raises :class:`~agentstore.errors.Conflict` (and, inside
    a transaction, leaves it usable only for rollback: let it propagate); a lost
    connection, an unreachable server or an unusable file
    :class:`~agentstore.errors.BackendUnavailable`; any other database failure
    :class:`~agentstore.errors.StoreError`. The client library's exception is kept as
    ``__cause__``. Messages never contain bound parameter values.

    Rows are read whole (:meth:`query`); the core streams long results by keyset pages, so
    no cursor stays open between the pages it yields.
    """

    @property
    def dialect(self) -> Dialect:
        """The dialect; picks the schema layout when the backend names none of its own
        (see :func:`agentstore.sql.schema.layout_of`)."""
        ...

    @property
    def location(self) -> str:
        """Where the database is, for messages (a path, ``host:port/db``); never a password."""
        ...

    def exec(self, sql: str, params: Sequence[Value] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def exec_many(self, sql: str, rows: Sequence[Sequence[Value]]) -> None:
        """Run one statement once per parameter row, in one round trip where possible;
        all rows take effect or none do (outside a transaction the backend opens one)."""
        ...

    def query(self, sql: str, params: Sequence[Value] = ()) -> list[Row]:
        """Run a statement and return all the rows it yields."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction scope for the calling thread (see the class docstring).

        Where the database allows it, the scope takes the write lock on entry, so a read
        inside it sees the latest committed state and no other writer commits meanwhile.
        """
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...


__all__ = [
    "Backend",
    "Dialect",
    "Row",
    "Value",
]
