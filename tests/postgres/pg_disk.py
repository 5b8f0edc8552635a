"""Reading a table's files on the test server, to check that bytes are gone from them."""

from __future__ import annotations

from typing import Any

import psycopg


def on_disk(conn: psycopg.Connection[Any], table: str, marker: bytes) -> bool:
    """Whether ``marker`` is in the file of ``table`` or of its TOAST table, read after a
    CHECKPOINT (as a superuser)."""
    conn.execute("CHECKPOINT")
    found = False
    for (rel,) in conn.execute(
        "SELECT oid FROM pg_class WHERE oid = %s::regclass UNION ALL "
        "SELECT reltoastrelid FROM pg_class WHERE oid = %s::regclass",
        (table, table),
    ).fetchall():
        path = conn.execute("SELECT pg_relation_filepath(%s)", (rel,)).fetchone()
        assert path is not None
        data = conn.execute("SELECT pg_read_binary_file(%s)", (path[0],)).fetchone()
        assert data is not None
        found = found or marker in bytes(data[0])
    return found
