"""``agentstore demo``: the main job in a short scene, then a tampered byte caught.

The scene runs on the embedded default (the sqlite driver) in a folder of its own, which is
left in place with a policy file so the user can run ``agentstore verify`` on it afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

from agentstore.cli.errors import CliError, CliFailure
from agentstore.cli.starter import starter_policy
from agentstore.cli.verify import verify_store
from agentstore.errors import UnknownDriver
from agentstore.policy import StorePolicy
from agentstore.registry import Registry
from agentstore.store import Store
from agentstore.store import open as open_store
from agentstore.types import AuditEntry, CommitEvent, JSONValue

STREAM: Final = "conv:demo"
TURNS: Final = (
    ("alice", "Hi Bob, shall we draft the weekly report?"),
    ("bob", "Yes. I'll collect the numbers."),
    ("alice", "I'll write the summary then."),
    ("bob", "Numbers are in: 42 tickets closed."),
)
TAMPER: Final = ("bob", 2, "42")
"""The entry whose stored payload the demo alters: writer, seq, and the text to touch."""

Echo = Callable[[str], None]


def _short(digest: bytes) -> str:
    return digest.hex()[:12] + "..."


def _flip_stored_byte(db: Path, writer: str, seq: int, index: int) -> tuple[str, str]:
    """Flip the lowest bit of one payload byte in the database file, behind the store's back.

    It reaches under the contract on purpose, as a failing disk or an intruder would: the
    sqlite driver keeps log entries in the table ``agentstore_log_rows``. Returns the character
    before and after.
    """
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    try:
        row = conn.execute(
            "SELECT payload FROM agentstore_log WHERE stream = ? AND writer = ? AND seq = ?",
            (STREAM, writer, seq),
        ).fetchone()
        if row is None:
            raise CliFailure(f"the demo database holds no entry {seq} of {writer}")
        payload = bytearray(row[0])
        before = chr(payload[index])
        payload[index] ^= 0x01
        conn.execute(
            "UPDATE agentstore_log_rows SET payload = ? "
            "WHERE stream = ? AND writer = ? AND seq = ?",
            (bytes(payload), STREAM, writer, seq),
        )
    finally:
        conn.close()
    return before, chr(payload[index])


def run_demo(directory: Path | None, *, registry: Registry, echo: Echo) -> bool:
    """Play the scene; return True when verify caught exactly the flipped byte.

    Raises:
        CliError: the sqlite driver is not installed, or ``directory`` already holds a store.
    """
    try:
        spec = registry.get("sqlite")
    except UnknownDriver as exc:
        raise CliError(f"the demo runs on the embedded default: {exc.message}") from None
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="agentstore-demo-"))
    else:
        directory.mkdir(parents=True, exist_ok=True)
    db = directory / "agentstore.db"
    policy_file = directory / "agentstore.toml"
    if db.exists() or policy_file.exists():
        raise CliError(f"{directory} already holds a demo store; remove it or pick another --dir")
    text = starter_policy("sqlite", spec, sections={"sqlite": {"path": db.name}})
    policy_file.write_text(text, encoding="utf-8")
    policy = StorePolicy.load(policy_file)
    echo(f"agentstore demo: a store on the sqlite driver at {db}")

    with open_store(policy, registry=registry) as store:
        if not _scene(store, echo):
            return False

    writer, seq, text = TAMPER
    index = TURNS[3][1].encode().index(text.encode()) + 1
    before, after = _flip_stored_byte(db, writer, seq, index)
    echo("")
    echo(
        f"The store is closed and one byte of its file is flipped: {STREAM} {writer} "
        f"seq {seq}, payload offset {index}: {before!r} -> {after!r}."
    )
    echo("The store is opened again and verified:")
    with open_store(policy, registry=registry) as store:
        results = verify_store(store, progress=False)
    broken = [r for r in results if r.broken is not None]
    for r in broken:
        assert r.broken is not None
        echo(
            f"  broken: stream {r.stream!r}, writer {r.writer!r}, seq {r.broken.seq}: "
            f"{r.broken.detail}"
        )
    caught = [(r.stream, r.writer, r.broken.seq) for r in broken if r.broken is not None]
    if caught != [(STREAM, writer, seq)]:
        echo(f"  expected exactly ({STREAM}, {writer}, {seq}) to be caught: this is a bug")
        return False
    echo("")
    echo("The tampered entry was caught exactly where it was changed.")
    echo(f"The store is kept in {directory}; see for yourself:")
    echo(f"  agentstore --config {policy_file} verify")
    return True


def _scene(store: Store, echo: Echo) -> bool:
    """Two agents' turns, the report clock and the doorbell; then every chain verified."""

    def ring(event: CommitEvent) -> None:
        echo(
            f"    doorbell: {event.stream} {event.writer} seq {event.seq} "
            f"{_short(event.content_hash)}"
        )

    store.doorbell.subscribe(ring)
    report = store.generation("report")
    echo("")
    echo(f"Two agents take turns in stream {STREAM!r}; the doorbell rings after each commit.")
    for i, (writer, text) in enumerate(TURNS, start=1):
        echo(f"  {writer}: {text}")
        store.log(STREAM, writer).append(text.encode())
        if i % 2 == 0:
            gen = report.bump()
            heads = {w: store.log(STREAM, w).head() for w in ("alice", "bob")}
            stamp: dict[str, JSONValue] = {w: (h.seq if h else 0) for w, h in heads.items()}
            store.audit.emit(
                AuditEntry("report.published", detail={"generation": gen, "covers": stamp})
            )
            covers = ", ".join(f"{w}@{n}" for w, n in stamp.items())
            echo(f"  report #{gen} stamped by generation 'report' = {gen}; covers {covers}")

    echo("")
    echo("Every chain is verified:")
    results = verify_store(store, progress=False)
    for r in results:
        state = "ok" if r.broken is None else f"BROKEN at seq {r.broken.seq}"
        echo(f"  {r.stream} {r.writer}: {r.entries} entries, {state}")
    if any(r.broken for r in results):
        echo("a chain was broken before anything was tampered with: this is a bug")
        return False
    return True


__all__ = [
    "STREAM",
    "TAMPER",
    "TURNS",
    "Echo",
    "run_demo",
]
