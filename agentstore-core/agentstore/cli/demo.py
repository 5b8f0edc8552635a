"""``agentstore demo``: the main job in a short scene, then a tampered byte caught.

The scene runs on the embedded default (the sqlite driver) in a folder of its own, which is
left in place with a policy file so the user can run ``agentstore verify`` on it afterwards.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

from agentstore.capabilities import WriterLogStore
from agentstore.cli.app import CliError, CliFailure, verify_store
from agentstore.cli.starter import starter_policy
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


def _flip_stored_byte(store: Store, writer: str, seq: int, index: int) -> tuple[str, str]:
    """Flip the lowest bit of one stored payload byte behind the store's back.

    Returns the character before and after. This reaches under the contract on purpose:
    it is what an attacker or a failing disk does, and it needs driver-level access.
    """
    driver = store.routes["logs"]
    logs: WriterLogStore = store._cap("logs")
    head = store.log(STREAM, writer).head()
    if head is None or head.seq < seq:
        raise CliFailure(f"the demo log holds no entry {seq} of {writer}")
    entry = next(store.log(STREAM, writer).entries(after=seq - 1))
    payload = bytearray(entry.payload)
    before = chr(payload[index])
    payload[index] ^= 0x01
    after = chr(payload[index])
    tamper = getattr(logs, "tamper", None)
    if driver == "memory" and tamper is not None:
        tamper(STREAM, writer, seq, entry._replace(payload=bytes(payload)))
        return before, after
    raise CliFailure(f"the demo cannot tamper with driver {driver!r}")


def run_demo(directory: Path | None, *, registry: Registry, echo: Echo) -> bool:
    """Play the scene; return True when verify caught exactly the flipped byte."""
    backend = "sqlite" if "sqlite" in registry.drivers else "memory"
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="agentstore-demo-"))
    else:
        directory.mkdir(parents=True, exist_ok=True)
    db = directory / "agentstore.db"
    policy_file = directory / "agentstore.toml"
    if db.exists() or policy_file.exists():
        raise CliError(f"{directory} already holds a demo store; remove it or pick another --dir")

    if backend == "sqlite":
        spec = registry.drivers["sqlite"]
        text = starter_policy("sqlite", spec, sections={"sqlite": {"path": db.name}})
        policy_file.write_text(text, encoding="utf-8")
        policy = StorePolicy.load(policy_file)
        echo(f"agentstore demo: a store on the sqlite driver at {db}")
    else:
        policy = StorePolicy("memory")
        echo("agentstore demo: a store on the memory driver (sqlite is not installed)")

    with open_store(policy, registry=registry) as store:
        bell_lines: list[str] = []

        def ring(event: CommitEvent) -> None:
            line = (
                f"    doorbell: {event.stream} {event.writer} seq {event.seq} "
                f"{_short(event.content_hash)}"
            )
            bell_lines.append(line)
            echo(line)

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

        writer, seq, text = TAMPER
        index = TURNS[3][1].encode().index(text.encode()) + 1
        before, after = _flip_stored_byte(store, writer, seq, index)
        echo("")
        echo(
            f"One stored byte is flipped behind the store's back: {STREAM} {writer} seq {seq}, "
            f"payload byte {index}: {before!r} -> {after!r}."
        )
        echo("Verify again:")
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
    if backend == "sqlite":
        echo(f"The store is kept in {directory}. See for yourself:")
        echo(f"  agentstore --config {policy_file} verify")
    echo("The tampered entry was caught exactly where it was changed.")
    return True
