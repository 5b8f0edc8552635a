"""A tenant view of a watching sqlite store (``watch = true``) hears the commits other
stores make on the file to its own streams, under its own names, and no one else's.

(Isolation through ``store.tenant`` on both SQL drivers: tests/sql/test_sql_tenants.py.)
"""

from __future__ import annotations

import threading
from pathlib import Path

from agentstore import CommitEvent
from sqlite_helpers import open_file_store

SETTLE = 10.0  # seconds to wait for an event that must come (the watcher polls every 20 ms)


def test_a_tenant_of_a_watching_store_hears_only_its_own_commits(tmp_path: Path) -> None:
    db = tmp_path / "watched.db"
    heard: list[CommitEvent] = []
    cond = threading.Condition()

    def hear(event: CommitEvent) -> None:
        with cond:
            heard.append(event)
            cond.notify_all()

    with open_file_store(db, watch=True) as watching, open_file_store(db) as writer:
        watching.tenant("acme").doorbell.subscribe(hear)
        writer.log("orders", "w").append(b"root")
        writer.tenant("beta").log("orders", "w").append(b"beta")
        entry = writer.tenant("acme").log("orders", "w").append(b"acme")
        writer.log("last", "w").append(b"root again")  # heard by the root only
        with cond:
            assert cond.wait_for(lambda: len(heard) >= 1, SETTLE)
        events = list(watching.follow(after=0, timeout=0.5))  # the root's feed: all four
        assert len(events) == 4
        with cond:
            assert heard == [
                CommitEvent("orders", "w", 1, entry.content_hash, entry.position),
            ]
