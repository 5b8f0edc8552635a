"""Chained appends on SQLite: one per transaction, and 1000 per transaction."""

from __future__ import annotations

import uuid

from benchmarks.common import (
    PAYLOAD,
    SQLITE_FULL,
    SQLITE_NORMAL,
    STREAM,
    Settings,
    SqliteFloorLog,
    agentstore_sqlite_durability,
    eventsourcing_sqlite,
    open_agentstore,
    stored_event,
)
from benchmarks.harness import CallRunner, Contender, Runner, Scenario, repeat

BATCH = 1000
NORMAL = SQLITE_NORMAL
FULL = SQLITE_FULL


def _floor(settings: Settings, name: str, n: int, batch: int) -> Runner:
    log = SqliteFloorLog(settings.path(name) / "floor.db", "NORMAL")
    if batch == 1:
        return CallRunner(repeat(lambda: log.append(STREAM, "floor", PAYLOAD), n), n, log.close)
    payloads = [PAYLOAD] * batch
    return CallRunner(
        repeat(lambda: log.append_many(STREAM, "floor", payloads), n), n * batch, log.close
    )


def _agentstore(settings: Settings, name: str, n: int, batch: int) -> Runner:
    path = settings.path(name) / "agentstore.db"
    store = open_agentstore("sqlite", {"path": str(path), "synchronous": "NORMAL"})
    log = store.log(STREAM, writer="agentstore")
    if batch == 1:
        return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)
    payloads = [PAYLOAD] * batch
    return CallRunner(repeat(lambda: log.append_many(payloads), n), n * batch, store.close)


def _eventsourcing(
    settings: Settings, name: str, n: int, batch: int, synchronous: str | None
) -> Runner:
    recorder, datastore = eventsourcing_sqlite(settings.path(name) / "es.db", synchronous)
    originator = uuid.uuid4()
    version = 0

    def one() -> None:
        nonlocal version
        version += 1
        recorder.insert_events([stored_event(originator, version, PAYLOAD)])

    def many() -> None:
        nonlocal version
        events = [stored_event(originator, version + i, PAYLOAD) for i in range(1, batch + 1)]
        version += batch
        recorder.insert_events(events)

    if batch == 1:
        return CallRunner(repeat(one, n), n, datastore.close)
    return CallRunner(repeat(many, n), n * batch, datastore.close)


def scenarios(settings: Settings) -> list[Scenario]:
    single = settings.n(2000, 300)
    batches = settings.n(20, 4)
    es = "eventsourcing SQLiteAggregateRecorder"
    return [
        Scenario(
            key="sqlite-append",
            title="SQLite: one chained append per transaction (256-byte payload)",
            unit="appends",
            note=(
                f"{single} appends per sample, one writer. The floor is BEGIN IMMEDIATE; read "
                "head; BLAKE3; INSERT; COMMIT with sqlite3. eventsourcing inserts one event "
                "per insert_events call (no chain, no head read: it relies on the key)."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 (floor)",
                    "floor",
                    NORMAL,
                    lambda: _floor(settings, "sa-floor", single, 1),
                ),
                Contender(
                    "agentstore sqlite",
                    "agentstore",
                    agentstore_sqlite_durability(),
                    lambda: _agentstore(settings, "sa-agentstore", single, 1),
                ),
                Contender(
                    es,
                    "peer",
                    NORMAL,
                    lambda: _eventsourcing(settings, "sa-es", single, 1, "NORMAL"),
                ),
                Contender(
                    f"{es} (its default)",
                    "peer",
                    FULL,
                    lambda: _eventsourcing(settings, "sa-es-full", single, 1, None),
                ),
            ],
        ),
        Scenario(
            key="sqlite-append-many",
            title=f"SQLite: append_many of {BATCH} per transaction (256-byte payloads)",
            unit="appends",
            note=(
                f"{batches} batches of {BATCH} per sample. The floor reads the head, hashes "
                "and inserts the batch with executemany in one transaction; eventsourcing "
                f"inserts {BATCH} events per insert_events call."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 executemany (floor)",
                    "floor",
                    NORMAL,
                    lambda: _floor(settings, "sm-floor", batches, BATCH),
                ),
                Contender(
                    "agentstore sqlite",
                    "agentstore",
                    agentstore_sqlite_durability(),
                    lambda: _agentstore(settings, "sm-agentstore", batches, BATCH),
                ),
                Contender(
                    es,
                    "peer",
                    NORMAL,
                    lambda: _eventsourcing(settings, "sm-es", batches, BATCH, "NORMAL"),
                ),
            ],
        ),
    ]
