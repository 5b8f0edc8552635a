"""The postgres driver native to agentstore.aio: an AsyncConnectionPool, no thread per call."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import agentstore
import agentstore.aio
import psycopg
import pytest
from agentstore import (
    AgentId,
    AuditEntry,
    CommitEvent,
    NotFound,
    PolicyDocument,
    SessionId,
    SessionRecord,
    StorePolicy,
)
from agentstore.aio._threads import Offload
from agentstore_postgres.aio import PgAsyncGenerationStore, PgAsyncLogStore
from agentstore_postgres.aio_governance import (
    PgAsyncAuditSink,
    PgAsyncCredentialStore,
    PgAsyncLifecycleStore,
    PgAsyncPolicyStore,
    PgAsyncRateLimitCounter,
    PgAsyncSessionStore,
)
from pg_procs import Workers
from pg_server import pg_section

NATIVE_GOVERNANCE: dict[str, type] = {
    "policies": PgAsyncPolicyStore,
    "audit": PgAsyncAuditSink,
    "sessions": PgAsyncSessionStore,
    "credentials": PgAsyncCredentialStore,
    "rate_limits": PgAsyncRateLimitCounter,
    "lifecycle": PgAsyncLifecycleStore,
}


def test_generations_and_logs_run_on_the_async_pool_not_threads(
    pg_policy: StorePolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    run = Offload.run

    async def counting(self: Offload, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)

    async def main() -> None:
        async with agentstore.aio.open(pg_policy) as store:
            assert isinstance(store._caps["logs"], PgAsyncLogStore)
            assert isinstance(store._caps["generations"], PgAsyncGenerationStore)
            monkeypatch.setattr(Offload, "run", counting)
            log = store.log("s", writer="w")
            await asyncio.gather(*(log.append(f"{i}".encode()) for i in range(20)))
            await log.append_many([b"a", b"b", b"c"])
            assert (await log.head()) is not None
            assert len([e async for e in log.entries()]) == 23
            assert await store.generation("g").bump() == 1
            assert await store.logs() == [("s", "w")]
            assert hops == []  # not one call went to a thread
            assert await log.verify() == 23  # hashing a chain does
            assert len(hops) == 1

    asyncio.run(main())


def test_governance_runs_on_the_async_pool_not_threads(
    pg_policy: StorePolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[str] = []
    run = Offload.run

    async def counting(self: Offload, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)

    async def main() -> None:
        async with agentstore.aio.open(pg_policy) as store:
            for cap, cls in NATIVE_GOVERNANCE.items():
                assert isinstance(store._caps[cap], cls), cap
            monkeypatch.setattr(Offload, "run", counting)
            agent = AgentId.new()
            doc = PolicyDocument({"allow": ["read"]})
            await store.policies.put(agent, doc)
            assert await store.policies.get(agent) == doc
            await store.policies.invalidate(agent)
            with pytest.raises(NotFound):
                await store.policies.get(agent)
            records = [await store.audit.emit(AuditEntry("act", agent, {"n": 1})) for _ in range(3)]
            assert [r.seq for r in records] == [1, 2, 3]
            assert [r async for r in store.audit.records(after=1)] == records[1:]
            session = SessionRecord(SessionId.new(), agent, {"k": [1, "v"]})
            await store.sessions.save(session)
            assert await store.sessions.load(session.session_id) == session
            await store.sessions.delete(session.session_id)
            await store.credentials.put_secret("key", b"s3cret")
            assert await store.credentials.get_secret("key") == b"s3cret"
            await store.credentials.delete_secret("key")
            assert await store.rate_limits.increment("k", 2) == 2
            assert await store.rate_limits.current("k") == 2
            await store.rate_limits.reset("k")
            await store.lifecycle.register(agent)
            await store.lifecycle.heartbeat(agent)
            assert (await store.lifecycle.info(agent)).agent_id == agent
            assert await store.lifecycle.live(60.0) == [agent]
            await store.lifecycle.deregister(agent)
            assert hops == []  # not one call went to a thread
            assert await store.audit.verify() == 3  # hashing a chain does
            assert len(hops) == 1

    asyncio.run(main())


def test_governance_alone_on_postgres_is_native_too(pg_schema: str) -> None:
    policy = StorePolicy(
        "memory",
        capabilities={"audit": "postgres", "policies": "postgres"},
        sections={"postgres": pg_section(pg_schema)},
    )

    async def main() -> None:
        async with agentstore.aio.open(policy) as store:
            assert isinstance(store._caps["audit"], PgAsyncAuditSink)
            assert isinstance(store._caps["policies"], PgAsyncPolicyStore)
            record = await store.audit.emit(AuditEntry("act"))
            assert [r async for r in store.audit.records()] == [record]
            assert await store.audit.verify() == 1

    asyncio.run(main())


def test_native_appends_interleave_with_the_synchronous_driver(pg_policy: StorePolicy) -> None:
    async def main() -> None:
        with agentstore.open(pg_policy) as sync:
            async with agentstore.aio.open(pg_policy) as store:
                alog, slog = store.log("s", writer="w"), sync.log("s", writer="w")
                for i in range(5):
                    await alog.append(f"a{i}".encode())  # builds on a remembered head
                    await asyncio.to_thread(slog.append, f"s{i}".encode())
                big = await alog.append_many([b"x" * 70_000] * 3)  # hashed on a thread
                assert [e.seq for e in big] == [11, 12, 13]
                assert await alog.verify() == 13

    asyncio.run(main())


def test_notify_rings_the_async_doorbell_for_another_store(pg_schema: str) -> None:
    policy = StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, notify=True)})

    async def main() -> None:
        async with agentstore.aio.open(policy) as listening, agentstore.aio.open(policy) as other:
            events = listening.doorbell.events()
            entry = await other.log("s", writer="w").append(b"elsewhere")
            mine = await listening.log("s", writer="me").append(b"here")
            seen: list[CommitEvent] = []
            async with asyncio.timeout(10):
                async for event in events:
                    seen.append(event)
                    if len(seen) == 2:
                        break
            assert sorted(seen) == sorted(
                [
                    CommitEvent("s", "w", entry.seq, entry.content_hash, entry.position),
                    CommitEvent("s", "me", mine.seq, mine.content_hash, mine.position),
                ]
            )

    asyncio.run(main())


def _listening(conn: psycopg.Connection[Any], app: str) -> set[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND query LIKE 'LISTEN%%'",
        (app,),
    ).fetchall()
    return {int(r[0]) for r in rows}


def _listen_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("agentstore-listen")]


def test_notify_listens_on_the_loop_and_hears_a_synchronous_store(
    pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    app = f"agentstore-test-{uuid.uuid4().hex[:8]}"
    section = pg_section(pg_schema, notify=True, application_name=app)
    listening = StorePolicy("postgres", sections={"postgres": section})
    announcing = StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, notify=True)})

    async def main() -> None:
        with agentstore.open(announcing) as sync:
            before = _listen_threads()
            async with agentstore.aio.open(listening) as store:
                assert _listen_threads() == before  # no LISTEN thread: a task on the loop
                assert len(_listening(pg_conn, app)) == 1
                tasks = {t.get_name() for t in asyncio.all_tasks()}
                assert f"agentstore-listen-agentstore:{pg_schema}" in tasks
                events = store.doorbell.events()
                entry = await asyncio.to_thread(sync.log("s", writer="w").append, b"sync")
                async with asyncio.timeout(10):
                    async for event in events:
                        assert event == CommitEvent("s", "w", 1, entry.content_hash, entry.position)
                        break
            tasks = {t.get_name() for t in asyncio.all_tasks()}
            assert f"agentstore-listen-agentstore:{pg_schema}" not in tasks
        deadline = time.monotonic() + 5  # the server ends a closed session's backend shortly
        while _listening(pg_conn, app) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert _listening(pg_conn, app) == set()

    asyncio.run(main())


def test_the_async_doorbell_hears_another_process(pg_schema: str) -> None:
    policy = StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, notify=True)})

    async def main() -> None:
        async with agentstore.aio.open(policy) as store:
            events = store.doorbell.events()
            other = Workers(["append", pg_schema, "s", "elsewhere", "3", "notify"])
            try:
                await asyncio.to_thread(other.wait_ready)
                (result,) = await asyncio.to_thread(other.go)
            finally:
                other.kill()
            assert result["seqs"] == [1, 2, 3]
            seen: list[tuple[str, str, int]] = []
            async with asyncio.timeout(10):
                async for event in events:
                    seen.append((event.stream, event.writer, event.seq))
                    if len(seen) == 3:
                        break
            assert seen == [("s", "elsewhere", 1), ("s", "elsewhere", 2), ("s", "elsewhere", 3)]

    asyncio.run(main())


def test_the_async_listener_reconnects_after_losing_its_connection(
    pg_schema: str, pg_conn: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = f"agentstore-test-{uuid.uuid4().hex[:8]}"
    section = pg_section(pg_schema, notify=True, application_name=app)
    listening = StorePolicy("postgres", sections={"postgres": section})
    announcing = StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, notify=True)})

    async def main() -> None:
        with agentstore.open(announcing) as sync:
            async with agentstore.aio.open(listening) as store:
                (old,) = _listening(pg_conn, app)
                pg_conn.execute("SELECT pg_terminate_backend(%s)", (old,))
                async with asyncio.timeout(10):
                    while not _listening(pg_conn, app) - {old}:
                        await asyncio.sleep(0.05)
                events = store.doorbell.events()
                log = sync.log("s", writer="w")
                entry = await asyncio.to_thread(log.append, b"after the outage")
                async with asyncio.timeout(10):
                    async for event in events:
                        assert event == CommitEvent("s", "w", 1, entry.content_hash, entry.position)
                        break
        assert "reconnecting" in caplog.text

    asyncio.run(main())
