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


def _floor(settings: Settings, name: str, n: int, batch: int, optimistic: bool = False) -> Runner:
    log = SqliteFloorLog(settings.path(name) / "floor.db", "NORMAL")
    if batch == 1:
        one = log.append_optimistic if optimistic else log.append
        return CallRunner(repeat(lambda: one(STREAM, "floor", PAYLOAD), n), n, log.close)
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
    single = settings.n(2000, 600)
    batches = settings.n(20, 6)
    es = "eventsourcing SQLiteAggregateRecorder"
    return [
        Scenario(
            key="sqlite-append",
            title="SQLite: one chained append per transaction (256-byte payload)",
            unit="appends",
            note=(
                f"{single} appends per sample, one writer. Floor (issue 6's): BEGIN "
                "IMMEDIATE; read the head; BLAKE3; INSERT; COMMIT with sqlite3. Floor "
                "(optimistic): one INSERT after a cached head, the primary key refusing a "
                "stale one (retry on conflict). eventsourcing inserts one event per "
                "insert_events call (no chain, no head read: it relies on the key)."
            ),
            contenders=[
                Contender(
                    "raw sqlite3 lock-then-insert (floor)",
                    "floor",
                    NORMAL,
                    lambda: _floor(settings, "sa-floor", single, 1),
                ),
                Contender(
                    "raw sqlite3 optimistic INSERT (floor)",
                    "floor",
                    NORMAL,
                    lambda: _floor(settings, "sa-floor-opt", single, 1, optimistic=True),
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
