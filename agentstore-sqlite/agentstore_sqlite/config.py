"""The ``[store.sqlite]`` section. Importing this module does not import sqlite3."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MEMORY: Final = ":memory:"
"""The ``path`` that selects a private in-memory database (gone when the store closes)."""

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
JournalMode = Literal["WAL", "DELETE", "TRUNCATE", "PERSIST"]


class SqliteConfig(BaseModel):
    """Settings of the ``sqlite`` driver, as written under ``[store.sqlite]``.

    Every field has a default, so the section may be left out.

    Attributes:
        path: the database file. A relative path is relative to the policy file's folder
            (or the working directory when there is no policy file); ``~`` is expanded.
            The folder must exist; a new file is created readable by its owner only
            (mode 0600). ``":memory:"`` is a private in-memory database that lives as long
            as the store.
        synchronous: when SQLite waits for the disk (``PRAGMA synchronous``). ``FULL``
            (default, SQLite's own) and ``EXTRA``: every commit is on the disk before the
            call returns, so an acknowledged write survives a process crash, a power loss
            and an operating-system crash, at the cost of an fsync per commit. ``NORMAL``
            (an opt-in trade of durability for speed): in WAL mode a commit survives the
            process crashing or being killed at any point, but a power loss or OS crash
            can lose the last acknowledged commits (never corrupting the file). ``OFF``: no
            fsync at all; a power loss or OS crash can corrupt the database (for scratch
            data and bulk loads only).
        journal_mode: ``WAL`` (default; readers never block the writer and one another)
            or a rollback journal mode for file systems without shared memory (network
            file systems). With a rollback journal, ``NORMAL`` is only safe against
            process crashes; use ``FULL`` for power-loss safety.
        busy_timeout: seconds a write waits, in all, for other connections to release the
            write lock before failing with BackendUnavailable.
        verify_workers: processes that check one long chain in parallel: 0 (default)
            uses one per CPU for chains long enough to pay for it; 1 always verifies in
            the calling process.
        watch: ring this store's doorbell for commits that other stores (in this
            process or others) make on the same file too, not only for this store's own
            appends. A daemon thread checks the file for commits every 20 ms on a
            read-only connection of its own (idle, under 1% of one CPU) and rings for
            each new entry of the feed in position order, within about 50 ms of its commit.
            Default false. Needs a database file (not ``":memory:"``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: str = "agentstore.db"
    synchronous: Synchronous = "FULL"
    journal_mode: JournalMode = "WAL"
    busy_timeout: float = Field(default=10.0, gt=0, le=86_400)
    verify_workers: int = Field(default=0, ge=0, le=256)
    watch: bool = False

    @field_validator("synchronous", "journal_mode", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError('must name a file, or ":memory:"')
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value

    # A field validator, not a model one: the default section then needs no validation
    # at all (see DriverSpec.needs_section), which keeps opening the default store cheap.
    @field_validator("watch")
    @classmethod
    def _watch_needs_file(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("path") == MEMORY:
            raise ValueError(
                "watch = true needs a database file that other stores open: an in-memory "
                "database is private to this store; set path to a file or leave watch out"
            )
        return value

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    def resolve_path(self, base_dir: Path) -> Path:
        """The database file this config names, relative paths taken from ``base_dir``."""
        path = Path(self.path).expanduser()
        return path if path.is_absolute() else Path(base_dir) / path


__all__ = ["MEMORY", "JournalMode", "SqliteConfig", "Synchronous"]
