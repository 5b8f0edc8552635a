"""The feed, conditional appends and erasure of the postgres driver native to agentstore.aio:
served on the AsyncConnectionPool, not on threads."""

from __future__ import annotations

import asyncio
from typing import Any

import agentstore
import agentstore.aio
import psycopg
import pytest
from agentstore import StorePolicy
from agentstore.aio._threads import Offload
from agentstore.errors import HeadMoved
from agentstore_postgres.aio import PgAsyncLogStore
from pg_disk import on_disk


def test_the_feed_and_its_companions_run_on_the_async_pool_not_threads(
    pg_policy: StorePolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    run = Offload.run

    async def counting(self: Offload, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)

    async def main() -> None:
        async with agentstore.aio.open(pg_policy) as store:
            assert isinstance(store._feed, PgAsyncLogStore)  # served natively
            monkeypatch.setattr(Offload, "run", counting)
            log = store.log("conv", writer="alice")
            first = await log.append(b"hello", expect_head=0)
            more = await log.append_many([b"a", b"b"], expect_head=1)
            other = await store.log("conv", writer="bob").append(b"hi")
            with pytest.raises(HeadMoved) as moved:
                await log.append(b"again", expect_head=1)
            assert (moved.value.expected, moved.value.actual) == (1, 3)
            written = [first, *more, other]
            assert [e.position async for e in store.feed()] == [e.position for e in written]
            assert [e async for e in store.feed(after=first.position, limit=2)] == [
                (await anext(store.feed(after=e.position - 1))) for e in more
            ]
            assert await store.position() == other.position
            assert [e async for e in store.stream("conv").entries()] == written
            erased = await log.redact(2, reason="erasure request")
            assert erased == more[0]._replace(payload=b"", redacted=True)
            again = await log.redact(2, reason="erasure request")  # nothing more recorded
            assert again == erased
            assert hops == []  # not one call went to a thread
            checked = await log.verify()
            assert (checked, checked.redacted) == (3, 1)
        with agentstore.open(pg_policy) as sync:
            records = [r for r in sync.audit.records() if r.entry.action == "redact"]
            assert [r.entry.detail for r in records] == [
                {"stream": "conv", "writer": "alice", "seq": 2, "reason": "erasure request"}
            ]
            assert [e.payload for e in sync.log("conv", writer="alice").entries()] == [
                b"hello",
                b"",
                b"b",
            ]

    asyncio.run(main())


def test_tasks_of_two_async_stores_racing_on_one_head_have_one_winner_each(
    pg_policy: StorePolicy,
) -> None:
    async def main() -> None:
        async with agentstore.aio.open(pg_policy) as a, agentstore.aio.open(pg_policy) as b:
            logs = [s.log("race", writer="w") for s in (a, b) for _ in range(4)]
            won: list[int] = []

            async def contend(n: int, log: Any) -> None:
                head = 0
                while head < 40:
                    try:
                        await log.append(f"{n}:{head}".encode(), expect_head=head)
                    except HeadMoved as exc:
                        head = exc.actual
                        continue
                    won.append(head)
                    head += 1

            await asyncio.gather(*(contend(n, log) for n, log in enumerate(logs)))
            assert sorted(won) == list(range(40))
            assert await a.log("race", writer="w").verify() == 40

    asyncio.run(main())


def test_an_async_redaction_vacuums_the_bytes_away(private_db: str) -> None:
    secret = b"SECRET-async-0c7e55"
    policy = StorePolicy("postgres", sections={"postgres": {"url": private_db, "schema": "s"}})

    async def main(conn: psycopg.Connection[Any]) -> None:
        async with agentstore.aio.open(policy) as store:
            log = store.log("conv", writer="alice")
            await log.append_many([b"filler %d" % i for i in range(20)])
            await log.append(secret)
            await log.append_many([b"more %d" % i for i in range(20)])
            assert on_disk(conn, "s.agentstore_log", secret)
            await log.redact(21, reason="erasure request")
            assert not on_disk(conn, "s.agentstore_log", secret)

    with psycopg.connect(private_db, autocommit=True) as conn:
        asyncio.run(main(conn))
