"""Generations over a :class:`~agentstore.sql.backend.Backend`: each bump is one atomic
upsert, so the guarantees hold across processes that share the database."""

from __future__ import annotations

from typing import cast

from agentstore.capabilities import GenerationStore
from agentstore.errors import NonMonotonicGeneration
from agentstore.sql.backend import Backend


class SqlGenerationStore(GenerationStore):
    """Generations in ``agentstore_generations``; each bump is one atomic upsert."""

    _GET = "SELECT value FROM agentstore_generations WHERE name = ?"
    _BUMP = (
        "INSERT INTO agentstore_generations (name, value) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = agentstore_generations.value + 1 "
        "RETURNING value"
    )
    _ADVANCE = (
        "INSERT INTO agentstore_generations (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value "
        "WHERE agentstore_generations.value <= excluded.value "
        "RETURNING value"
    )

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _current(self, name: str) -> int:
        rows = self._backend.query(self._GET, (name,))
        return cast(int, rows[0][0]) if rows else 0

    def _bump(self, name: str) -> int:
        return cast(int, self._backend.query(self._BUMP, (name,))[0][0])

    def _advance_to(self, name: str, value: int) -> int:
        if self._backend.query(self._ADVANCE, (name, value)):
            return value
        # The guarded update matched nothing: the stored value was above ``value``, and
        # generations only grow, so reading it again gives a value that is still above.
        raise NonMonotonicGeneration(name, self._current(name), value)


__all__ = ["SqlGenerationStore"]
