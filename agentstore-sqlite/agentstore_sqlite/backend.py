"""Opening a SQLite database as the SQL substrate's backend
(:class:`~agentstore_sqlite.connection.SqliteBackend`): a file, created private or opened
as it is, read-only or immutable where asked, or an in-memory database."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from contextlib import suppress
from pathlib import Path
from typing import Final

from agentstore.errors import BackendUnavailable, StoreNotFound

from agentstore_sqlite.connection import SqliteBackend

MIN_SQLITE_VERSION: Final = (3, 35, 0)
"""RETURNING and ON CONFLICT ... DO UPDATE, which the substrate uses, need 3.35."""

SQLITE_MAGIC: Final = b"SQLite format 3\x00"

# -- opening -------------------------------------------------------------------------------


def check_sqlite_version() -> None:
    """Raise BackendUnavailable when the linked SQLite library is too old."""
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        need = ".".join(map(str, MIN_SQLITE_VERSION))
        raise BackendUnavailable(
            f"agentstore-sqlite needs SQLite {need} or later; this Python links SQLite "
            f"{sqlite3.sqlite_version}"
        )


def open_memory() -> SqliteBackend:
    """A backend on a new private in-memory database."""
    check_sqlite_version()
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    return SqliteBackend(conn, location=":memory:")


def open_file(
    path: Path,
    *,
    synchronous: str = "FULL",
    journal_mode: str = "WAL",
    busy_timeout: float = 10.0,
    create: bool = True,
    read_only: bool = False,
) -> SqliteBackend:
    """A backend on the database file ``path``, created (mode 0600) if it does not exist.

    With ``create`` False the file must exist and nothing about it is changed (its journal
    mode stays as it is). With ``read_only`` (which implies it) the connection never
    writes: a file this user may write is opened with writes refused by SQLite
    (``query_only``); one it may only read is opened ``mode=ro``, and a WAL file with no
    ``-wal`` beside it (nobody has it open) as ``immutable``, so no ``-shm`` or ``-wal``
    file is made or left behind.

    Raises:
        StoreNotFound: ``create`` is False and ``path`` does not exist or is not a SQLite
            database.
        BackendUnavailable: naming ``path`` when its folder does not exist, it is a folder
            or not a regular file, it cannot be read (permission denied), it is read-only
            and ``read_only`` is False, or it holds something other than a SQLite
            database. Nothing is created or changed in those cases. If opening a file
            created here fails later, the (empty, 0600) file is left in place: another
            process may already be using it.
    """
    check_sqlite_version()
    path = path.absolute()
    create = create and not read_only
    header = _prepare_file(path, create=create, read_only=read_only)
    params, query_only, immutable = "mode=rw", False, False
    if read_only:
        if _may_write(path):
            query_only = True  # rw, so the last reader out removes -wal and -shm
        elif _is_wal(header) and not os.path.exists(f"{path}-wal"):
            params, immutable = "mode=ro&immutable=1", True
        else:
            params = "mode=ro"
    # A file created here is never removed on a later failure: another process may have
    # opened it at once and had writes acknowledged. At worst an empty 0600 file is left,
    # which is an empty database the next open uses.

    def connect() -> sqlite3.Connection:
        # mode=rw: never let SQLite create the file itself (it would not be 0600).
        try:
            return sqlite3.connect(
                f"{path.as_uri()}?{params}",
                uri=True,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=256,
            )
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open SQLite database {path}: {exc}") from exc

    def configure(conn: sqlite3.Connection) -> None:
        if create:
            _configure(backend, conn, journal_mode, synchronous, busy_timeout)
            backend.wal = journal_mode == "WAL"
        else:
            backend.wal = _configure_existing(backend, conn, synchronous, busy_timeout)
        if query_only:
            conn.execute("PRAGMA query_only = ON")

    conn = connect()
    backend = SqliteBackend(conn, location=str(path), path=path, busy_timeout=busy_timeout)
    backend.read_only, backend.immutable = read_only, immutable
    try:
        configure(conn)
    except sqlite3.Error as exc:
        backend.close()
        raise backend._error(exc) from exc
    except BaseException:
        backend.close()  # closes our connection only; the file and its data stay
        raise

    def reconnect() -> sqlite3.Connection:
        fresh = connect()
        try:
            configure(fresh)
        except sqlite3.Error as exc:
            fresh.close()
            raise backend._error(exc) from exc
        except BaseException:
            fresh.close()
            raise
        return fresh

    backend.reconnect = reconnect
    with suppress(OSError):  # gone already: verify reads through this connection
        backend.file_id = file_id(path)
    return backend


def file_id(path: Path) -> tuple[int, int]:
    """The identity of the file now at ``path``: equal for two paths to the same file.

    Raises:
        OSError: nothing can be found at ``path``.
    """
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _configure(
    backend: SqliteBackend,
    conn: sqlite3.Connection,
    journal_mode: str,
    synchronous: str,
    busy_timeout: float,
) -> None:
    # Only literal settings validated by SqliteConfig reach these f-strings.
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        deadline = time.monotonic() + busy_timeout
        while True:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).upper()
            if mode == journal_mode:
                break
            try:
                mode = str(conn.execute(f"PRAGMA journal_mode = {journal_mode}").fetchone()[0])
            except sqlite3.OperationalError as exc:
                # Switching the mode needs every other connection out of the way for a
                # moment; the busy handler does not cover it.
                if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY") and (
                    time.monotonic() < deadline
                ):
                    time.sleep(0.01)
                    continue
                raise
            if mode.upper() != journal_mode:
                raise BackendUnavailable(
                    f"{backend.location}: SQLite cannot use journal_mode {journal_mode} "
                    f"for this file (it stays {mode}); set journal_mode in [store.sqlite]"
                )
            break
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.Error as exc:
        raise backend._error(exc) from exc


def _configure_existing(
    backend: SqliteBackend, conn: sqlite3.Connection, synchronous: str, busy_timeout: float
) -> bool:
    """Set this connection's own settings, change nothing in the file, and read it once
    (so a file that cannot be read fails here); whether it is in WAL mode."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error as exc:
        name = getattr(exc, "sqlite_errorname", None) or ""
        if backend.read_only and name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            raise BackendUnavailable(
                f"cannot read SQLite database {backend.location} read-only ({exc}): a writer "
                "has it open or left its -wal file, and SQLite cannot make the -shm file "
                "beside it; read it while that folder is writable, or verify a copy"
            ) from exc
        raise backend._error(exc) from exc
    return mode.upper() == "WAL"


def _may_write(path: Path) -> bool:
    # A file nobody may write is read-only by intent, even to a user (root) who could.
    return bool(os.stat(path).st_mode & 0o222) and os.access(path, os.W_OK)


def _is_wal(header: bytes) -> bool:
    """Whether a database header says WAL mode (write and read format versions 2)."""
    return header[18:20] == b"\x02\x02"


def _prepare_file(path: Path, *, create: bool = True, read_only: bool = False) -> bytes:
    """Check ``path`` can hold our database, and return its first 100 bytes; create it
    empty (mode 0600) if missing, or refuse when ``create`` is False."""
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except PermissionError as exc:
        raise BackendUnavailable(
            f"permission denied: cannot reach SQLite database {path} (a folder on its path "
            "cannot be searched)"
        ) from exc
    except OSError as exc:
        raise BackendUnavailable(f"cannot use {path} as a SQLite database: {exc.strerror}") from exc
    if st is None:
        if not create:
            raise StoreNotFound(
                f"SQLite database {path} does not exist, so it holds no agentstore store; "
                "check the path. Nothing was created."
            )
        parent = path.parent
        if not parent.is_dir():
            what = "is not a folder" if parent.exists() else "does not exist"
            raise BackendUnavailable(
                f"cannot create SQLite database {path}: the folder {parent} {what}; "
                "create the folder first or fix the path"
            )
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except FileExistsError:  # another process created it just now
            return _prepare_file(path, create=create, read_only=read_only)
        except OSError as exc:
            raise BackendUnavailable(
                f"cannot create SQLite database {path}: {exc.strerror}"
            ) from exc
        os.close(fd)
        return b""
    if stat.S_ISDIR(st.st_mode):
        raise BackendUnavailable(
            f"{path} is a folder, not a SQLite database file; name a file inside it"
        )
    if not stat.S_ISREG(st.st_mode):
        raise BackendUnavailable(f"{path} is not a regular file, so it cannot be a database")
    if not os.access(path, os.R_OK):
        raise BackendUnavailable(f"permission denied: cannot read SQLite database {path}")
    if not read_only and not _may_write(path):
        raise BackendUnavailable(
            f"SQLite database {path} is read-only; make it writable (chmod u+w), use another "
            "path, or open it with read_only=True to read it"
        )
    header = b""
    if st.st_size:
        try:
            with open(path, "rb") as f:
                header = f.read(100)
        except PermissionError as exc:
            raise BackendUnavailable(
                f"permission denied: cannot read SQLite database {path}"
            ) from exc
        except OSError as exc:
            raise BackendUnavailable(f"cannot read {path}: {exc.strerror}") from exc
        if not header.startswith(SQLITE_MAGIC):
            kind = BackendUnavailable if create else StoreNotFound
            raise kind(
                f"{path} is not a SQLite database (it holds other data), so it holds no "
                "agentstore store; nothing was changed: point [store.sqlite] path at a new "
                "or SQLite file"
            )
    return header


__all__ = [
    "MIN_SQLITE_VERSION",
    "SqliteBackend",
    "check_sqlite_version",
    "open_file",
    "open_memory",
]
