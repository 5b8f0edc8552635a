"""The asyncio face: event-loop lag while appending and verifying, and postgres throughput."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.common import (
    PAYLOAD,
    SQLITE_NORMAL,
    STREAM,
    Settings,
    agentstore_sqlite_durability,
    chain,
    open_agentstore,
)
from benchmarks.harness import Contender, Runner, Sample, Scenario, Unavailable
from benchmarks.postgres_log import HEAD, INSERT, SCHEMA, Pg, _where
from benchmarks.verify import _build_agentstore

T = TypeVar("T")
TASKS = 8
PG_TASKS = 4
TICK = 0.001  # the lag probe sleeps this long and measures how late it wakes


def _p99(xs: list[float]) -> float:
    if not xs:
        return 0.0
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _with_lag(work: Awaitable[T]) -> tuple[T, float, float]:
    """Await ``work`` while a probe measures how late the loop wakes it; (result, p99, max)."""
    lags: list[float] = []
    stop = False

    async def probe() -> None:
        while not stop:
            start = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append(time.perf_counter() - start - TICK)

    task = asyncio.ensure_future(probe())
    await asyncio.sleep(0)
    try:
        result = await work
    finally:
        stop = True
        await task
    return result, _p99(lags), max(lags, default=0.0)


def _lag_extra(p99: float, worst: float) -> dict[str, float]:
    return {"loop lag p99 ms": p99 * 1e3, "loop lag max ms": worst * 1e3}


class LoopRunner:
    """A contender living on an event loop of its own, one sample per ``work()``."""

    def __init__(
        self,
        open_: Callable[[], Coroutine[Any, Any, Any]],
        work: Callable[[Any], Coroutine[Any, Any, Sample]],
        close: Callable[[Any], Coroutine[Any, Any, None]],
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self._work, self._close = work, close
        try:
            self.state = self.loop.run_until_complete(open_())
        except BaseException:
            self.loop.close()
            raise

    def run(self) -> Sample:
        return self.loop.run_until_complete(self._work(self.state))

    def close(self) -> None:
        try:
            self.loop.run_until_complete(self._close(self.state))
        finally:
            self.loop.close()


def _aio_policy(backend: str, section: dict[str, Any]) -> Any:
    store = open_agentstore(backend, section)  # checks the driver is there, like the others
    policy = store.policy
    store.close()
    return policy


# -- sqlite: 8 tasks appending, loop lag -------------------------------------------------


def _aio_sqlite_appends(settings: Settings, per_task: int) -> Runner:
    import agentstore.aio

    path = settings.path("aio-lag") / "agentstore.db"
    policy = _aio_policy("sqlite", {"path": str(path), "synchronous": "NORMAL"})

    async def open_() -> Any:
        return await agentstore.aio.open(policy)

    async def work(store: Any) -> Sample:
        logs = [store.log(STREAM, writer=f"task-{i}") for i in range(TASKS)]

        async def task(log: Any) -> None:
            for _ in range(per_task):
                await log.append(PAYLOAD)

        async def all_tasks() -> None:
            await asyncio.gather(*(task(log) for log in logs))

        start = time.perf_counter()
        _, p99, worst = await _with_lag(all_tasks())
        return Sample(TASKS * per_task, time.perf_counter() - start, _lag_extra(p99, worst))

    async def close(store: Any) -> None:
        await store.aclose()

    return LoopRunner(open_, work, close)


def _sync_on_loop(settings: Settings, per_task: int) -> Runner:
    """The synchronous store called from coroutines: what the issue measured (12 ms)."""
    path = settings.path("aio-lag-sync") / "agentstore.db"
    store = open_agentstore("sqlite", {"path": str(path), "synchronous": "NORMAL"})

    async def open_() -> Any:
        return store

    async def work(s: Any) -> Sample:
        logs = [s.log(STREAM, writer=f"task-{i}") for i in range(TASKS)]

        async def task(log: Any) -> None:
            for _ in range(per_task):
                log.append(PAYLOAD)
                await asyncio.sleep(0)

        async def all_tasks() -> None:
            await asyncio.gather(*(task(log) for log in logs))

        start = time.perf_counter()
        _, p99, worst = await _with_lag(all_tasks())
        return Sample(TASKS * per_task, time.perf_counter() - start, _lag_extra(p99, worst))

    async def close(s: Any) -> None:
        s.close()

    return LoopRunner(open_, work, close)


# -- postgres: 4 tasks on distinct writers ------------------------------------------------


def _pg_raw(
    pg: Pg,
    per_task: int,
    writer: str,
    *,
    prepare: Callable[[Any], Awaitable[object]],
    head_sql: str,
    append: Callable[[Any, tuple[Any, ...]], Awaitable[object]],
) -> Runner:
    """A floor of raw psycopg.AsyncConnection, one connection and one writer per task: the
    head read once, then each entry chained and written by ``append(conn, entry)``."""
    try:
        import psycopg
    except ImportError as exc:
        raise Unavailable("psycopg is not installed (uv run --group bench)") from exc
    pg.ensure()

    async def open_() -> Any:
        conns = [
            await psycopg.AsyncConnection.connect(
                pg.url, autocommit=True, options=f"-c search_path={pg.schema}"
            )
            for _ in range(PG_TASKS)
        ]
        await prepare(conns[0])
        return conns

    async def work(conns: list[Any]) -> Sample:
        async def task(i: int, conn: Any) -> None:
            name = f"{writer}-{i}"
            row = await (await conn.execute(head_sql, (STREAM, name))).fetchone()
            seq, prev = (int(row[0]), bytes(row[1])) if row else (0, None)
            for _ in range(per_task):
                digest = chain(prev, PAYLOAD)
                await append(conn, (STREAM, name, seq + 1, PAYLOAD, prev, digest))
                seq, prev = seq + 1, digest

        start = time.perf_counter()
        await asyncio.gather(*(task(i, c) for i, c in enumerate(conns)))
        return Sample(PG_TASKS * per_task, time.perf_counter() - start)

    async def close(conns: list[Any]) -> None:
        for conn in conns:
            await conn.close()

    return LoopRunner(open_, work, close)


def _pg_floor(pg: Pg, per_task: int) -> Runner:
    async def prepare(conn: Any) -> None:
        await conn.execute(SCHEMA)

    async def append(conn: Any, entry: tuple[Any, ...]) -> None:
        await conn.execute(INSERT, entry)

    return _pg_raw(pg, per_task, "aio-floor", prepare=prepare, head_sql=HEAD, append=append)


def _pg_floor_with_head(pg: Pg, per_task: int) -> Runner:
    """The floor writing what agentstore writes: agentstore's own guarded INSERT that moves
    the log's recorded head in the same statement."""
    try:
        from agentstore_postgres.driver import _INSERT, _INSERT_AFTER
    except ImportError as exc:
        raise Unavailable("agentstore-postgres is not installed") from exc
    section = {"url": pg.url, "schema": pg.schema}
    heads = "SELECT seq, content_hash FROM agentstore_log_heads WHERE stream = %s AND writer = %s"

    async def prepare(conn: Any) -> None:
        open_agentstore("postgres", section).close()  # the store's tables, as agentstore makes them

    async def append(conn: Any, entry: tuple[Any, ...]) -> None:
        stream, writer, seq, _, prev, _ = entry
        if prev is None:
            await conn.execute(_INSERT, entry)
        else:
            await conn.execute(_INSERT_AFTER, (*entry, stream, writer, seq - 1, prev))

    return _pg_raw(pg, per_task, "aio-floor-head", prepare=prepare, head_sql=heads, append=append)


def _pg_agentstore(pg: Pg, per_task: int) -> Runner:
    import agentstore.aio

    pg.ensure()
    section = {"url": pg.url, "schema": pg.schema, "pool_min_size": PG_TASKS}
    section["pool_max_size"] = PG_TASKS
    policy = _aio_policy("postgres", section)

    async def open_() -> Any:
        return await agentstore.aio.open(policy)

    async def work(store: Any) -> Sample:
        async def task(i: int) -> None:
            log = store.log(STREAM, writer=f"aio-agentstore-{i}")
            for _ in range(per_task):
                await log.append(PAYLOAD)

        start = time.perf_counter()
        _, p99, worst = await _with_lag(asyncio.gather(*(task(i) for i in range(PG_TASKS))))
        return Sample(PG_TASKS * per_task, time.perf_counter() - start, _lag_extra(p99, worst))

    async def close(store: Any) -> None:
        await store.aclose()

    return LoopRunner(open_, work, close)


# -- verify off the loop ------------------------------------------------------------------


class SyncVerify:
    def __init__(self, db: Path, entries: int) -> None:
        self.store = open_agentstore("sqlite", {"path": str(db)})
        self.entries = entries

    def run(self) -> Sample:
        start = time.perf_counter()
        count = self.store.log(STREAM, writer="agentstore").verify()
        assert count == self.entries
        return Sample(count, time.perf_counter() - start)

    def close(self) -> None:
        self.store.close()


def _aio_verify(db: Path, entries: int) -> Runner:
    import agentstore.aio

    policy = _aio_policy("sqlite", {"path": str(db)})

    async def open_() -> Any:
        return await agentstore.aio.open(policy)

    async def work(store: Any) -> Sample:
        start = time.perf_counter()
        count, p99, worst = await _with_lag(store.log(STREAM, writer="agentstore").verify())
        assert count == entries
        return Sample(count, time.perf_counter() - start, _lag_extra(p99, worst))

    async def close(store: Any) -> None:
        await store.aclose()

    return LoopRunner(open_, work, close)


def scenarios(settings: Settings) -> list[Scenario]:
    per_task = settings.n(250, 40)
    pg = Pg(settings)
    skipped = pg.probe()
    pg_per_task = settings.n(400, 60)
    entries = settings.n(1_000_000, 50_000)
    built: dict[str, Path] = {}

    def chain_db() -> Path:
        if "db" not in built:
            db = settings.path("aio-verify") / "agentstore.db"
            built["db"] = _build_agentstore(db, entries)
        return built["db"]

    return [
        Scenario(
            key="aio-sqlite-lag",
            title=f"asyncio on SQLite: {TASKS} tasks appending, event-loop lag",
            unit="appends",
            note=(
                f"{TASKS} tasks each append {per_task} entries (one per call) to a log of its "
                f"own while a probe sleeps {TICK * 1e3:.0f} ms in a loop and records how late "
                "it wakes (loop lag). The floor is the synchronous store called from the same "
                "coroutines, blocking the loop: what an adopter without agentstore.aio gets."
            ),
            contenders=[
                Contender(
                    "sync agentstore sqlite called on the loop (floor)",
                    "floor",
                    SQLITE_NORMAL,
                    lambda: _sync_on_loop(settings, per_task),
                ),
                Contender(
                    "agentstore.aio sqlite",
                    "agentstore",
                    agentstore_sqlite_durability(),
                    lambda: _aio_sqlite_appends(settings, per_task),
                ),
            ],
        ),
        Scenario(
            key="aio-postgres-append",
            title=f"asyncio on PostgreSQL: {PG_TASKS} tasks appending on distinct writers",
            unit="appends",
            skipped=skipped,
            note=(
                f"PostgreSQL {pg.version} at {_where(pg.url)}. {PG_TASKS} tasks, one writer "
                f"and one connection each, {pg_per_task} appends per task per sample. Floor: "
                "raw psycopg.AsyncConnection, one INSERT per append after a cached head "
                "(BLAKE3 chained), all on one event loop; a second floor runs agentstore's own "
                "statement (the guarded INSERT that moves the log's recorded head), so the "
                "async face's own cost shows apart from the head that lets verify catch "
                "truncation."
            ),
            contenders=[
                Contender(
                    "raw psycopg.AsyncConnection (floor)",
                    "floor",
                    pg.durability,
                    lambda: _pg_floor(pg, pg_per_task),
                ),
                Contender(
                    "raw psycopg.AsyncConnection, agentstore's INSERT with head (floor)",
                    "floor",
                    pg.durability,
                    lambda: _pg_floor_with_head(pg, pg_per_task),
                ),
                Contender(
                    "agentstore.aio postgres",
                    "agentstore",
                    pg.durability,
                    lambda: _pg_agentstore(pg, pg_per_task),
                ),
            ],
        ),
        Scenario(
            key="aio-verify",
            title=f"asyncio: await verify() of a {entries:,}-entry SQLite chain",
            unit="entries",
            note=(
                f"One writer's chain of {entries:,} 256-byte entries. The floor is the "
                "synchronous verify() of the same store; the async row awaits verify() while "
                "the lag probe runs on its loop."
            ),
            contenders=[
                Contender(
                    "sync agentstore sqlite verify() (floor)",
                    "floor",
                    "read only",
                    lambda: SyncVerify(chain_db(), entries),
                ),
                Contender(
                    "agentstore.aio sqlite await verify()",
                    "agentstore",
                    "read only",
                    lambda: _aio_verify(chain_db(), entries),
                ),
            ],
        ),
    ]


__all__ = ["scenarios"]
