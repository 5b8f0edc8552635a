"""Ad-hoc timing of the postgres driver against hand-written psycopg (not a test).

    AGENTSTORE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        uv run python tests/postgres/measure_pg.py

Each figure is the median of several runs, in a fresh schema that is dropped after. The
raw floors do the same work (hash chain included) with psycopg directly:
  - single: one autocommit INSERT per entry on one connection;
  - single, transaction per append: BEGIN; INSERT; COMMIT (what an event-store recorder
    such as eventsourcing's does per write, before any table lock);
  - batch: BEGIN; binary COPY of the rows; COMMIT.
The benchmarks under benchmarks/ are the figures of record; this is a quick check.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import agentstore
import psycopg
from agentstore import StorePolicy
from blake3 import blake3

URL = os.environ.get("AGENTSTORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SINGLES = 2000
BATCH = 1000
ROUNDS = 7
PAYLOAD = b"x" * 100


def chain(prev: bytes | None, n: int, start: int) -> list[tuple[int, bytes, bytes | None, bytes]]:
    rows = []
    for i in range(n):
        digest = blake3(PAYLOAD if prev is None else prev + PAYLOAD).digest()
        rows.append((start + i, PAYLOAD, prev, digest))
        prev = digest
    return rows


def medians(*fns: Callable[[int], float]) -> list[float]:
    """Run the contenders in turn, round after round (the machine's load hits all alike)."""
    runs: list[list[float]] = [[] for _ in fns]
    for r in range(ROUNDS):
        for fn, out in zip(fns, runs, strict=True):
            out.append(fn(r))
    return [statistics.median(out) for out in runs]


def main() -> None:
    schema = f"agentstore_measure_{uuid.uuid4().hex[:8]}"
    os.environ["AGENTSTORE_MEASURE_URL"] = URL
    section = {"url": {"env": "AGENTSTORE_MEASURE_URL"}, "schema": schema, "pool_max_size": 8}
    policy = StorePolicy("postgres", sections={"postgres": section})
    raw = psycopg.connect(URL, autocommit=True)
    try:
        with agentstore.open(policy) as store:
            raw.execute(f"SET search_path = {schema}")
            insert = (
                "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, "
                "content_hash) VALUES (%s, %s, %s, %s, %s, %s)"
            )

            # -- single appends --------------------------------------------------------
            def store_single(r: int) -> float:
                log = store.log("single", writer=f"store{r}")
                log.append(PAYLOAD)  # warm the head cache, as a long-lived writer has it
                t = time.perf_counter()
                for _ in range(SINGLES):
                    log.append(PAYLOAD)
                return (time.perf_counter() - t) / SINGLES

            def raw_single(r: int, tx: bool = False) -> float:
                writer = f"raw{r}{tx}"
                prev: bytes | None = None
                t = time.perf_counter()
                for seq in range(1, SINGLES + 1):
                    digest = blake3(PAYLOAD if prev is None else prev + PAYLOAD).digest()
                    row = ("single", writer, seq, PAYLOAD, prev, digest)
                    if tx:
                        with raw.transaction():
                            raw.execute(insert, row)
                    else:
                        raw.execute(insert, row)
                    prev = digest
                return (time.perf_counter() - t) / SINGLES

            s_store, s_raw, s_tx = medians(store_single, raw_single, lambda r: raw_single(r, True))
            print(
                f"single append     store {s_store * 1e6:7.0f} us"
                f"   raw INSERT {s_raw * 1e6:7.0f} us"
                f"   raw BEGIN/INSERT/COMMIT {s_tx * 1e6:7.0f} us"
                f"   store/raw {s_store / s_raw:.2f}"
            )

            # -- batches of 1000 -------------------------------------------------------
            def store_batch(r: int) -> float:
                log = store.log("batch", writer=f"store{r}")
                log.append(PAYLOAD)
                payloads = [PAYLOAD] * BATCH
                t = time.perf_counter()
                log.append_many(payloads)
                return time.perf_counter() - t

            def raw_copy(r: int) -> float:
                writer = f"raw{r}"
                t = time.perf_counter()
                rows = chain(None, BATCH, 1)
                with (
                    raw.transaction(),
                    raw.cursor() as cur,
                    cur.copy(
                        "COPY agentstore_log (stream, writer, seq, payload, prev_hash,"
                        " content_hash) FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(["text", "text", "int8", "bytea", "bytea", "bytea"])
                    for seq, payload, prev, digest in rows:
                        copy.write_row(("batch", writer, seq, payload, prev, digest))
                return time.perf_counter() - t

            b_store, b_raw = medians(store_batch, raw_copy)
            print(
                f"append_many(1000) store {b_store * 1e3:7.2f} ms"
                f"   raw COPY   {b_raw * 1e3:7.2f} ms"
                f"   store/raw {b_store / b_raw:.2f}"
            )

            # -- threads on distinct writers --------------------------------------------
            def threaded(n: int, r: int) -> float:
                logs = [store.log("fan", writer=f"t{r}-{n}-{i}") for i in range(n)]
                for log in logs:
                    log.append(PAYLOAD)
                per = SINGLES // 2
                start = threading.Barrier(n + 1)

                def work(i: int) -> None:
                    start.wait()
                    for _ in range(per):
                        logs[i].append(PAYLOAD)

                threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
                for th in threads:
                    th.start()
                start.wait()
                t = time.perf_counter()
                for th in threads:
                    th.join()
                return n * per / (time.perf_counter() - t)

            one, four = medians(lambda r: threaded(1, r), lambda r: threaded(4, r))
            print(
                f"distinct writers  1 thread {one:7.0f}/s   4 threads {four:7.0f}/s"
                f"   scaling {four / one:.2f}x"
            )
    finally:
        raw.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        raw.close()


if __name__ == "__main__":
    main()
