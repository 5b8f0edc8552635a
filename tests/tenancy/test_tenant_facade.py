"""The tenant view's own behaviour, beyond the conformance contracts: its lifetime, its
repr, what the operator's store sees, and the CLI's --tenant."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import time
from pathlib import Path

import agentstore
import agentstore.aio
import pytest
from agentstore import InvalidInput, StoreError, StorePolicy
from agentstore.capabilities import MAX_INT
from agentstore.cli import cli
from agentstore.tenancy import TenantStore
from agentstore.types import AgentId, SessionId, SessionRecord
from click.testing import CliRunner


def _memory() -> agentstore.Store:
    return agentstore.open(StorePolicy.from_dict({"store": {"backend": "memory"}}))


def test_a_view_closes_alone_and_with_its_store() -> None:
    store = _memory()
    acme, beta = store.tenant("acme"), store.tenant("beta")
    assert isinstance(acme, TenantStore) and acme.tenant_name == "acme"
    acme.log("s", "w").append(b"x")
    acme.close()
    assert acme.closed and not beta.closed and not store.closed
    with pytest.raises(StoreError, match="tenant 'acme' is closed"):
        acme.log("s", "w")
    assert store.tenant("acme").log("s", "w").head() is not None  # data outlives the view
    store.close()
    assert beta.closed
    with pytest.raises(StoreError, match="closed"):
        beta.generation("g").current()


def test_repr_names_the_tenant_and_no_secret() -> None:
    store = _memory()
    acme = store.tenant("acme")
    acme.credentials.put_secret("api", b"hunter2")
    assert "acme" in repr(acme) and "hunter2" not in repr(acme)
    assert "hunter2" not in repr(acme.credentials)


def test_a_view_reads_the_stores_rate_limit_clock_and_cannot_set_it() -> None:
    """The clock is the store's, shared by every tenant's counters: a tenant setting it
    (say, to a constant) would keep every tenant's windows from ever ending."""
    store = _memory()
    acme, beta = store.tenant("acme"), store.tenant("beta")
    clock = store.rate_limits.clock
    assert acme.rate_limits.clock is clock
    with pytest.raises(InvalidInput, match="clock"):
        acme.rate_limits.clock = lambda: 0.0
    assert store.rate_limits.clock is clock and beta.rate_limits.clock is clock


def test_the_operators_store_sees_tenant_names_stored_and_their_events() -> None:
    store = _memory()
    heard: list[str] = []
    store.doorbell.subscribe(lambda e: heard.append(e.stream))
    store.tenant("acme").log("s", "w").append(b"x")
    assert heard == ["agentstore:t:acme:s"]
    assert [e.stream for e in store.feed()] == ["agentstore:t:acme:s"]
    assert store.logs() == [("agentstore:t:acme:s", "w")]


def test_a_tenant_error_names_its_own_stream() -> None:
    store = _memory()
    log = store.tenant("acme").log("s", "w")
    log.append(b"x")
    with pytest.raises(agentstore.HeadMoved) as moved:
        log.append(b"y", expect_head=0)
    assert moved.value.stream == "s" and "agentstore:t:" not in str(moved.value)
    with pytest.raises(agentstore.NotFound) as missing:
        log.redact(7, reason="r")
    assert "'s'" in str(missing.value) and "agentstore:t:" not in str(missing.value)


def test_a_tenant_generation_error_names_its_own_generation() -> None:
    """As a log's errors do: it once named the stored 'agentstore:t:acme:g'."""
    store = _memory()
    gen = store.tenant("acme").generation("g")
    gen.advance_to(5)
    with pytest.raises(agentstore.NonMonotonicGeneration) as back:
        gen.advance_to(3)
    assert (back.value.name, back.value.current, back.value.requested) == ("g", 5, 3)
    assert "agentstore:t:" not in str(back.value)
    assert gen.current() == 5


def test_a_tenant_rate_limit_overflow_names_its_own_key() -> None:
    """As a log's errors do: it once named the stored 'agentstore:t:acme:k'."""
    store = _memory()
    limits = store.tenant("acme").rate_limits
    limits.increment("k", amount=MAX_INT)
    with pytest.raises(InvalidInput) as past:
        limits.increment("k")
    assert "'k'" in str(past.value) and "agentstore:t:" not in str(past.value)
    assert limits.current("k") == MAX_INT


def test_a_tenant_chain_broken_names_its_own_stream(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    policy = StorePolicy.from_dict({"store": {"backend": "sqlite", "sqlite": {"path": str(db)}}})
    with agentstore.open(policy) as store:
        store.tenant("acme").log("s", "w").append_many([b"1", b"2"])
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE agentstore_log_rows SET payload = x'00' WHERE seq = 1")
    con.close()
    with agentstore.open(policy) as store, pytest.raises(agentstore.ChainBroken) as broken:
        store.tenant("acme").log("s", "w").verify()
    assert (broken.value.stream, broken.value.seq) == ("s", 1)
    assert "agentstore:t:" not in str(broken.value)


def test_async_views_confine_and_close_with_the_store() -> None:
    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy.from_dict({"store": {"backend": "memory"}}))
        acme, beta = store.tenant("acme"), store.tenant("beta")
        sid = SessionId.new()
        await acme.sessions.save(SessionRecord(sid, AgentId.new(), {"t": "acme"}))
        assert [s async for s in acme.sessions.ids()] == [sid]
        assert [s async for s in beta.sessions.ids()] == []
        assert [s async for s in store.sessions.ids()] == []
        got: list[str] = []

        async def follow() -> None:
            async for event in beta.follow(timeout=0.5):
                got.append(event.stream)

        task = asyncio.ensure_future(follow())
        await acme.log("s", "w").append(b"a")
        await beta.log("t", "w").append(b"b")
        await task
        assert got == ["t"]
        with pytest.raises(InvalidInput):
            acme.tenant("beta")
        await store.aclose()
        assert acme.closed and beta.closed

    asyncio.run(main())


def test_async_events_of_a_view_no_longer_held_end_when_the_store_closes() -> None:
    """A view taken per request and dropped leaves its doorbell's streams behind: closing
    the store ends them too (they once waited forever, the store no longer knowing
    them), and cancels its async subscribers' tasks."""

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy.from_dict({"store": {"backend": "memory"}}))
        got: list[int] = []
        started = asyncio.Event()

        async def consume() -> None:
            async for event in store.tenant("acme").doorbell.events():
                got.append(event.seq)

        cancelled: list[bool] = []

        async def slow(_event: agentstore.CommitEvent) -> None:
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        store.tenant("acme").doorbell.subscribe(slow)
        gc.collect()  # the views above are gone; their doorbells' streams are not
        await store.tenant("acme").log("s", "w").append(b"x")
        await asyncio.wait_for(started.wait(), 5)
        gc.collect()
        await asyncio.wait_for(store.aclose(), 5)
        assert cancelled == [True]
        await asyncio.wait_for(consumer, 5)
        assert got == [1]

    asyncio.run(main())


def test_an_async_view_of_a_closed_store_is_refused_naming_aio_open() -> None:
    """The error once named agentstore.open() and the logs capability: an asyncio
    caller is told how to open an async store again."""

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy.from_dict({"store": {"backend": "memory"}}))
        await store.aclose()
        with pytest.raises(StoreError) as closed:
            store.tenant("acme")
        assert "tenant" in str(closed.value)
        assert "agentstore.aio.open()" in str(closed.value)

    asyncio.run(main())


def test_async_appends_through_two_views_of_a_tenant_ring_in_seq_order() -> None:
    """Views are taken per request, so two of one tenant append to one log at once: each
    view once had its own log locks, and seq 2 could ring before seq 1 (seen on
    PostgreSQL). Here seq 1's ring is held up by a slow subscriber."""

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy.from_dict({"store": {"backend": "memory"}}))

        def slow_first(event: agentstore.CommitEvent) -> None:
            if event.seq == 1:
                time.sleep(0.3)  # on the committing thread, before the stream hears it

        store.doorbell.subscribe(slow_first)
        stream = store.tenant("acme").doorbell.events()
        first = asyncio.ensure_future(store.tenant("acme").log("s", "w").append(b"1"))
        await asyncio.sleep(0.1)  # seq 1 is committed; its ring waits in slow_first
        await store.tenant("acme").log("s", "w").append(b"2")
        await first
        assert [(await anext(stream)).seq, (await anext(stream)).seq] == [1, 2]
        await store.aclose()

    asyncio.run(main())


def test_an_async_view_closed_alone_says_so_not_that_the_store_is_closed() -> None:
    """Its error once said the store was closed and to open it again with
    agentstore.aio.open(), while the store was open: another view is what it needs."""

    async def main() -> None:
        store = await agentstore.aio.open(StorePolicy.from_dict({"store": {"backend": "memory"}}))
        async with store.tenant("acme") as acme:
            await acme.log("s", "w").append(b"x")
        with pytest.raises(StoreError) as closed:
            acme.log("s", "w")
        assert "tenant 'acme' is closed" in str(closed.value)
        assert "store.tenant()" in str(closed.value) and "aio.open" not in str(closed.value)
        await store.aclose()
        with pytest.raises(StoreError, match=r"store is closed.*agentstore\.aio\.open\(\)"):
            acme.log("s", "w")

    asyncio.run(main())


def _sqlite_store(tmp_path: Path) -> Path:
    (tmp_path / "agentstore.toml").write_text(
        f'[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "{tmp_path / "s.db"}"\n'
    )
    return tmp_path / "agentstore.toml"


def test_cli_lists_and_verifies_a_tenants_data(tmp_path: Path) -> None:
    config = _sqlite_store(tmp_path)
    with agentstore.open(config) as store:
        acme = store.tenant("acme")
        acme.credentials.put_secret("k", b"v")
        acme.log("s", "w").append_many([b"1", b"2"])
        store.credentials.put_secret("root", b"v")
    runner = CliRunner()
    out = runner.invoke(cli, ["--config", str(config), "list", "credentials", "--tenant", "acme"])
    assert out.exit_code == 0, out.output
    assert out.output.split() == ["k"]
    out = runner.invoke(
        cli, ["--config", str(config), "list", "credentials", "--tenant", "beta", "--json"]
    )
    assert json.loads(out.output) == {"ok": True, "credentials": []}
    out = runner.invoke(cli, ["--config", str(config), "list", "credentials"])
    assert out.output.split() == ["agentstore:t:acme:k", "root"]
    out = runner.invoke(cli, ["--config", str(config), "list", "sessions", "--tenant", "ACME"])
    assert out.exit_code == 2 and "tenant name" in out.output
    out = runner.invoke(cli, ["--config", str(config), "verify"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "ok: 1 chain holds (2 entries)"


def test_a_drivers_own_rate_limit_refusal_keeps_its_reason_and_the_tenants_key() -> None:
    from agentstore.capabilities import RateLimitCounter
    from agentstore.tenancy.stores import TenantRateLimitCounter

    class Picky(RateLimitCounter):
        def _increment(self, key: str, amount: int, window_secs: float, now: float) -> int:
            raise InvalidInput(f"rate-limit key {key!r} is too long for this backend")

        def _current(self, key: str, now: float) -> int:
            return 0

        def _reset(self, key: str) -> None:
            pass

    limits = TenantRateLimitCounter(Picky(), "acme")
    with pytest.raises(InvalidInput) as refused:
        limits.increment("k")
    assert refused.value.message == "rate-limit key 'k' is too long for this backend"
