"""Adopting agentstore in an application that already owns a SQLite database.

The application keeps its own ``tickets`` table on its own ``sqlite3`` connection.
``agentstore_sqlite.open_on_connection`` opens a store on that same connection: the store's
tables (all named ``agentstore_*``) are created beside the application's, in the same
file, and closing the store leaves the connection to the application.

Run it:  python examples/adopt_sqlite_connection.py [FOLDER]   (default: a temporary folder)
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import agentstore_sqlite


def main(folder: Path) -> None:
    # The application's database, as it existed before agentstore.
    conn = sqlite3.connect(folder / "app.db", isolation_level=None)
    conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")

    with agentstore_sqlite.open_on_connection(conn) as store:
        events = store.log("tickets", writer="api")
        for title in ("login fails on Safari", "export times out"):
            ticket_id = conn.execute("INSERT INTO tickets (title) VALUES (?)", (title,)).lastrowid
            entry = events.append(json.dumps({"created": ticket_id, "title": title}).encode())
            print(f"ticket {ticket_id} created; event #{entry.seq} chained")
        print(f"events verified: {events.verify()} entries")

    # The store is closed; the connection is still the application's.
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    print(f"application tables: {[t for t in tables if not t.startswith('agentstore_')]}")
    print(f"agentstore tables in the same file: {sum(t.startswith('agentstore_') for t in tables)}")
    (count,) = conn.execute("SELECT count(*) FROM tickets").fetchone()
    print(f"tickets: {count}")
    conn.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
