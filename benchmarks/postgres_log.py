"""Chained appends on PostgreSQL: single, append_many of 1000, and 4 threads on distinct writers.

Everything runs in a schema created for this run and dropped at its end. The server is
``$AGENTSTORE_BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
when it cannot be reached the scenarios are listed as skipped, with the reason.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from benchmarks.common import (
    PAYLOAD,
    STREAM,
    Settings,
    chain,
    driver_accepts,
    open_agentstore,
    stored_event,
)
from benchmarks.harness import CallRunner, Contender, Runner, Sample, Scenario, Unavailable

BATCH = 1000
THREADS = 4

HEAD_LOCK = (
    "SELECT seq, content_hash FROM floor_entries WHERE stream = %s AND writer = %s "
    "ORDER BY seq DESC LIMIT 1 FOR UPDATE"
)
HEAD = (
    "SELECT seq, content_hash FROM floor_entries WHERE stream = %s AND writer = %s "
    "ORDER BY seq DESC LIMIT 1"
)
INSERT = (
    "INSERT INTO floor_entries (stream, writer, seq, payload, prev_hash, content_hash) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
COPY = (
    "COPY floor_entries (stream, writer, seq, payload, prev_hash, content_hash) "
    "FROM STDIN (FORMAT BINARY)"
)
UNNEST = (
    "INSERT INTO floor_entries (stream, writer, seq, payload, prev_hash, content_hash) "
    "SELECT %s, %s, s, p, ph, h FROM unnest(%s::int8[], %s::bytea[], %s::bytea[], %s::bytea[]) "
    "AS t(s, p, ph, h)"
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_entries (
    stream text NOT NULL,
    writer text NOT NULL,
    seq bigint NOT NULL,
    payload bytea NOT NULL,
    prev_hash bytea,
    content_hash bytea NOT NULL,
    PRIMARY KEY (stream, writer, seq)
)
"""


def _where(url: str) -> str:
    """Host and port of ``url``, never its password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        d = conninfo_to_dict(url)
        return f"{d.get('host', 'localhost')}:{d.get('port', 5432)}/{d.get('dbname', '')}"
    except Exception:
        return "the configured server"


class Pg:
    """The run's schema on the server: created on first use, dropped when the run ends."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.postgres_url
        self.schema = f"agentstore_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.settings = settings
        self._created = False
        self._lock = threading.Lock()
        self.durability = "server default"
        self.version = "?"

    def probe(self) -> str:
        """Empty if the server answers, else why not (host and port, no secret)."""
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (uv run --group bench)"
        try:
            with psycopg.connect(self.url, connect_timeout=3, autocommit=True) as conn:
                sc = conn.execute("SHOW synchronous_commit").fetchone()
                fsync = conn.execute("SHOW fsync").fetchone()
                version = conn.execute("SHOW server_version").fetchone()
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return f"PostgreSQL at {_where(self.url)} is unreachable ({first})"
        assert sc is not None and fsync is not None and version is not None
        self.durability = f"synchronous_commit={sc[0]}, fsync={fsync[0]}"
        self.version = str(version[0])
        return ""

    def ensure(self) -> None:
        import psycopg

        with self._lock:
            if self._created:
                return
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            self._created = True
            self.settings.cleanups.callback(self.drop)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def connect(self, *, autocommit: bool = True) -> Any:
        import psycopg

        self.ensure()
        return psycopg.connect(
            self.url, autocommit=autocommit, options=f"-c search_path={self.schema}"
        )

    def url_in_schema(self) -> str:
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options={quote(f'-c search_path={self.schema}')}"


# -- floors --------------------------------------------------------------------------------


class FloorWriter:
    """One writer's chained appends, hand-written with psycopg on its own connection."""

    def __init__(self, pg: Pg, writer: str) -> None:
        self.conn = pg.connect()
        self.conn.execute(SCHEMA)
        self.writer = writer
        self.head: tuple[int, bytes | None] = self._read_head(HEAD)

    def _read_head(self, sql: str) -> tuple[int, bytes | None]:
        row = self.conn.execute(sql, (STREAM, self.writer)).fetchone()
        return (int(row[0]), bytes(row[1])) if row else (0, None)

    def append_locked(self, payload: bytes) -> None:
        """BEGIN; SELECT head FOR UPDATE; INSERT; COMMIT."""
        with self.conn.transaction():
            seq, prev = self._read_head(HEAD_LOCK)
            seq += 1
            self.conn.execute(
                INSERT, (STREAM, self.writer, seq, payload, prev, chain(prev, payload))
            )

    def append_optimistic(self, payload: bytes) -> None:
        """One INSERT after the cached head; the primary key refuses a stale head."""
        import psycopg

        while True:
            seq, prev = self.head
            h = chain(prev, payload)
            try:
                self.conn.execute(INSERT, (STREAM, self.writer, seq + 1, payload, prev, h))
            except psycopg.errors.UniqueViolation:
                self.head = self._read_head(HEAD)
                continue
            self.head = (seq + 1, h)
            return

    def _rows(
        self, payloads: Sequence[bytes]
    ) -> list[tuple[str, str, int, bytes, bytes | None, bytes]]:
        seq, prev = self._read_head(HEAD_LOCK)
        rows = []
        for p in payloads:
            seq += 1
            h = chain(prev, p)
            rows.append((STREAM, self.writer, seq, p, prev, h))
            prev = h
        return rows

    def append_many_executemany(self, payloads: Sequence[bytes]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(INSERT, self._rows(payloads))

    def append_many_copy(self, payloads: Sequence[bytes]) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            rows = self._rows(payloads)
            with cur.copy(COPY) as cp:
                cp.set_types(["text", "text", "int8", "bytea", "bytea", "bytea"])
                for r in rows:
                    cp.write_row(r)

    def append_many_unnest(self, payloads: Sequence[bytes]) -> None:
        with self.conn.transaction(), self.conn.cursor(binary=True) as cur:
            rows = self._rows(payloads)
            cur.execute(
                UNNEST,
                (
                    STREAM,
                    self.writer,
                    [r[2] for r in rows],
                    [r[3] for r in rows],
                    [r[4] for r in rows],
                    [r[5] for r in rows],
                ),
            )

    def close(self) -> None:
        self.conn.close()


def _threaded(jobs: Sequence[Callable[[], object]]) -> float:
    """Run every job on its own thread, released together; the wall time until all finish."""
    barrier = threading.Barrier(len(jobs) + 1)
    errors: list[BaseException] = []

    def body(job: Callable[[], object]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


class ThreadRunner:
    """``jobs()`` builds one job per thread; a sample times them all running at once."""

    def __init__(
        self, jobs: Sequence[Callable[[], object]], ops: int, closer: Callable[[], object]
    ):
        self.jobs, self.ops, self.closer = jobs, ops, closer

    def run(self) -> Sample:
        return Sample(self.ops, _threaded(self.jobs))

    def close(self) -> None:
        self.closer()


def _close_all(items: Sequence[Any]) -> Callable[[], None]:
    def close() -> None:
        for item in items:
            item.close()

    return close


# -- contenders ------------------------------------------------------------------------------


def _floor(pg: Pg, prefix: str, method: str, *, n: int, batch: int, threads: int) -> Runner:
    writers = [FloorWriter(pg, f"{prefix}-{i}") for i in range(threads)]
    payloads = [PAYLOAD] * batch

    def job(w: FloorWriter) -> Callable[[], None]:
        fn = getattr(w, method)
        arg: object = PAYLOAD if batch == 1 else payloads

        def loop() -> None:
            for _ in range(n):
                fn(arg)

        return loop

    close = _close_all(writers)
    if threads == 1:
        return CallRunner(job(writers[0]), n * batch, close)
    return ThreadRunner([job(w) for w in writers], n * batch * threads, close)


def _agentstore(pg: Pg, prefix: str, n: int, batch: int, threads: int) -> Runner:
    pg.ensure()
    section: dict[str, Any] = {"url": pg.url_in_schema(), "schema": pg.schema}
    if driver_accepts("postgres", "schema"):
        section["url"] = pg.url
    # One pooled connection per thread, as every floor has (unknown keys are left out).
    section["pool_min_size"] = section["pool_max_size"] = threads
    store = open_agentstore("postgres", section)
    logs = [store.log(STREAM, writer=f"{prefix}-{i}") for i in range(threads)]
    payloads = [PAYLOAD] * batch

    def job(log: Any) -> Callable[[], None]:
        def loop() -> None:
            for _ in range(n):
                if batch == 1:
                    log.append(PAYLOAD)
                else:
                    log.append_many(payloads)

        return loop

    if threads == 1:
        return CallRunner(job(logs[0]), n * batch, store.close)
    return ThreadRunner([job(lg) for lg in logs], n * batch * threads, store.close)


def _eventsourcing(pg: Pg, n: int, batch: int, threads: int) -> Runner:
    try:
        from eventsourcing.postgres import PostgresAggregateRecorder, PostgresDatastore
        from psycopg.conninfo import conninfo_to_dict
    except ImportError as exc:
        raise Unavailable(
            "eventsourcing[postgres] is not installed (uv run --group bench)"
        ) from exc
    pg.ensure()
    d = conninfo_to_dict(pg.url)
    datastore = PostgresDatastore(
        dbname=str(d.get("dbname", "postgres")),
        host=str(d.get("host", "localhost")),
        port=str(d.get("port", 5432)),
        user=str(d.get("user", "postgres")),
        password=str(d.get("password", "")),
        pool_size=threads,
        schema=pg.schema,
    )
    recorder = PostgresAggregateRecorder(datastore, events_table_name="es_events")
    recorder.create_table()
    versions = [0] * threads
    originators = [uuid.uuid4() for _ in range(threads)]

    def job(i: int) -> Callable[[], None]:
        def loop() -> None:
            for _ in range(n):
                v = versions[i]
                events = [stored_event(originators[i], v + k, PAYLOAD) for k in range(1, batch + 1)]
                versions[i] = v + batch
                recorder.insert_events(events)

        return loop

    if threads == 1:
        return CallRunner(job(0), n * batch, datastore.close)
    return ThreadRunner([job(i) for i in range(threads)], n * batch * threads, datastore.close)


def scenarios(settings: Settings) -> list[Scenario]:
    pg = Pg(settings)
    skipped = pg.probe()
    if skipped:
        from benchmarks.harness import progress

        progress(f"note: PostgreSQL scenarios skipped: {skipped}")
    dur = pg.durability
    single = settings.n(1000, 200)
    batches = settings.n(10, 3)
    per_thread = settings.n(400, 80)
    es = "eventsourcing PostgresAggregateRecorder"
    where = f"PostgreSQL {pg.version} at {_where(pg.url)}"
    return [
        Scenario(
            key="postgres-append",
            title="PostgreSQL: one chained append per transaction (256-byte payload)",
            unit="appends",
            skipped=skipped,
            note=(
                f"{where}. {single} appends per sample, one writer, one connection each. "
                "Floor (lock): BEGIN; SELECT head FOR UPDATE; INSERT; COMMIT. Floor "
                "(optimistic): one INSERT after a cached head, the primary key refusing a "
                "stale one (retry on conflict). eventsourcing: one insert_events per event."
            ),
            contenders=[
                Contender(
                    "psycopg lock-then-insert (floor)",
                    "floor",
                    dur,
                    lambda: _floor(pg, "pa-lock", "append_locked", n=single, batch=1, threads=1),
                ),
                Contender(
                    "psycopg optimistic INSERT (floor)",
                    "floor",
                    dur,
                    lambda: _floor(pg, "pa-opt", "append_optimistic", n=single, batch=1, threads=1),
                ),
                Contender(
                    "agentstore postgres",
                    "agentstore",
                    dur,
                    lambda: _agentstore(pg, "pa-agentstore", single, 1, 1),
                ),
                Contender(es, "peer", dur, lambda: _eventsourcing(pg, single, 1, 1)),
            ],
        ),
        Scenario(
            key="postgres-append-many",
            title=f"PostgreSQL: append_many of {BATCH} per transaction (256-byte payloads)",
            unit="appends",
            skipped=skipped,
            note=(
                f"{where}. {batches} batches of {BATCH} per sample. Each floor locks the head, "
                "hashes the batch and inserts it in one transaction with executemany "
                "(pipelined), COPY FROM STDIN (binary), or one INSERT ... SELECT FROM unnest "
                f"of binary arrays. eventsourcing inserts {BATCH} events per call."
            ),
            contenders=[
                Contender(
                    "psycopg executemany (floor)",
                    "floor",
                    dur,
                    lambda: _floor(
                        pg, "pm-many", "append_many_executemany", n=batches, batch=BATCH, threads=1
                    ),
                ),
                Contender(
                    "psycopg COPY binary (floor)",
                    "floor",
                    dur,
                    lambda: _floor(
                        pg, "pm-copy", "append_many_copy", n=batches, batch=BATCH, threads=1
                    ),
                ),
                Contender(
                    "psycopg INSERT ... unnest (floor)",
                    "floor",
                    dur,
                    lambda: _floor(
                        pg, "pm-unnest", "append_many_unnest", n=batches, batch=BATCH, threads=1
                    ),
                ),
                Contender(
                    "agentstore postgres",
                    "agentstore",
                    dur,
                    lambda: _agentstore(pg, "pm-agentstore", batches, BATCH, 1),
                ),
                Contender(es, "peer", dur, lambda: _eventsourcing(pg, batches, BATCH, 1)),
            ],
        ),
        Scenario(
            key="postgres-threads",
            title=f"PostgreSQL: {THREADS} threads, distinct writers, one append per transaction",
            unit="appends",
            skipped=skipped,
            note=(
                f"{where}. {THREADS} threads x {per_thread} appends per sample, each thread "
                "its own writer and connection; the rate is the total."
            ),
            contenders=[
                Contender(
                    "psycopg lock-then-insert (floor)",
                    "floor",
                    dur,
                    lambda: _floor(
                        pg, "pt-lock", "append_locked", n=per_thread, batch=1, threads=THREADS
                    ),
                ),
                Contender(
                    "psycopg optimistic INSERT (floor)",
                    "floor",
                    dur,
                    lambda: _floor(
                        pg, "pt-opt", "append_optimistic", n=per_thread, batch=1, threads=THREADS
                    ),
                ),
                Contender(
                    "agentstore postgres",
                    "agentstore",
                    dur,
                    lambda: _agentstore(pg, "pt-agentstore", per_thread, 1, THREADS),
                ),
                Contender(es, "peer", dur, lambda: _eventsourcing(pg, per_thread, 1, THREADS)),
            ],
        ),
    ]
