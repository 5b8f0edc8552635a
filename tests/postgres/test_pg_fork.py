"""A postgres store used on both sides of ``os.fork()``: each process on its own connections.

Every test forks for real (``os.fork`` or multiprocessing's ``fork`` context) after the
parent has used its pool, so the child inherits live pooled connections.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import agentstore
import agentstore_postgres
import psycopg
import pytest
from agentstore import CommitEvent, Store, StoreError, StorePolicy
from forked import (
    EACH,
    THREADS,
    Child,
    append_in_threads,
    assert_log_holds_exactly,
    check_a_child_killed_mid_append,
    deadline,
)
from pg_server import pg_section


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with deadline(90):
        yield


@pytest.fixture
def policy(pg_schema: str) -> StorePolicy:
    section = pg_section(pg_schema, pool_min_size=4, pool_max_size=8)
    return StorePolicy("postgres", sections={"postgres": section})


def test_parent_and_forked_child_append_at_once(policy: StorePolicy) -> None:
    with agentstore.open(policy) as store:
        first = store.log("shared", writer="w").append(b"before-fork")  # the pool is live
        child_log = store.log("child-only", writer="w")

        def in_child(child: Child) -> Any:
            child.wait_go()
            own = [[child_log.append(f"c{i}".encode()).seq, f"c{i}"] for i in range(20)]
            return {"shared": append_in_threads(store, "shared", "w", "child"), "own": own}

        child = Child(in_child)
        try:
            child.go()
            parent_own = [
                [store.log("parent-only", writer="w").append(f"p{i}".encode()).seq, f"p{i}"]
                for i in range(20)
            ]
            parent = append_in_threads(store, "shared", "w", "parent")
            result = child.result()
        finally:
            child.close()
        acked = [[first.seq, "before-fork"], *parent, *result["shared"]]
        assert len(acked) == 1 + 2 * THREADS * EACH
        assert_log_holds_exactly(store, "shared", "w", acked)
        assert_log_holds_exactly(store, "child-only", "w", result["own"])
        assert_log_holds_exactly(store, "parent-only", "w", parent_own)


def _mp_child(store: Store, go: Any, conn: Any) -> None:
    go.wait(30)
    conn.send(append_in_threads(store, "shared", "w", "mp"))
    conn.close()


def test_multiprocessing_fork_context_child_appends_beside_the_parent(
    policy: StorePolicy,
) -> None:
    ctx = multiprocessing.get_context("fork")
    with agentstore.open(policy) as store:
        store.log("shared", writer="w").append(b"before-fork")
        go = ctx.Event()
        receive, send = ctx.Pipe(duplex=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            proc = ctx.Process(target=_mp_child, args=(store, go, send))
            proc.start()
        try:
            send.close()
            go.set()
            parent = append_in_threads(store, "shared", "w", "parent")
            assert receive.poll(60), "the child sent nothing"
            child = receive.recv()
            proc.join(30)
            assert proc.exitcode == 0
        finally:
            if proc.is_alive():
                proc.kill()
                proc.join()
        assert_log_holds_exactly(store, "shared", "w", [[1, "before-fork"], *parent, *child])


def assert_pool_serves(store: Store, tag: str) -> None:
    """Every connection the parent's pool holds still works: more threads than the pool's
    minimum append at once, and every append lands."""
    acked = append_in_threads(store, "after", "w", tag)
    assert len(acked) == THREADS * EACH


@pytest.mark.parametrize("used", [True, False], ids=["used-then-closed", "closed-unused"])
def test_a_child_closing_its_copy_leaves_the_parents_pool_intact(
    policy: StorePolicy, used: bool
) -> None:
    with agentstore.open(policy) as store:
        append_in_threads(store, "before", "w", "warm")  # several pooled connections in use

        def in_child(child: Child) -> Any:
            if used:
                store.log("child", writer="w").append(b"one")
            store.close()  # never closes the parent's connections
            gc.collect()
            return "closed"

        child = Child(in_child)
        try:
            assert child.result() == "closed"
        finally:
            child.close()
        assert_pool_serves(store, "parent")
        assert store.log("child", writer="w").verify() == (1 if used else 0)
        assert store.log("after", writer="w").verify() == THREADS * EACH


def test_the_parent_keeps_working_after_a_child_is_killed_mid_append(
    policy: StorePolicy,
) -> None:
    with agentstore.open(policy) as store:
        check_a_child_killed_mid_append(store)


def test_the_doorbell_across_fork_rings_both_ways(pg_schema: str) -> None:
    section = pg_section(pg_schema, notify=True)
    notify_policy = StorePolicy("postgres", sections={"postgres": section})
    heard: list[CommitEvent] = []
    with agentstore.open(notify_policy) as store:
        store.doorbell.subscribe(heard.append)
        store.log("n", writer="parent").append(b"before-fork")

        def in_child(child: Child) -> Any:
            got: list[CommitEvent] = []
            store.doorbell.subscribe(got.append)
            store.log("n", writer="child").head()  # the child's first call: it listens now
            child.send("listening")
            child.wait_go()
            for i in range(5):
                store.log("n", writer="child").append(f"c{i}".encode())
            wait_for(lambda: sum(e.writer == "parent" for e in got) >= 5)
            return [[e.writer, e.seq] for e in got if e.writer == "parent"]

        child = Child(in_child)
        try:
            assert child.message() == "listening"
            child.go()
            for i in range(5):
                store.log("n", writer="parent").append(f"p{i}".encode())
            wait_for(lambda: sum(e.writer == "child" for e in heard) >= 5)
            child_heard = child.result()
        finally:
            child.close()
        assert child_heard == [["parent", seq] for seq in range(2, 7)]
        assert [e.seq for e in heard if e.writer == "child"] == [1, 2, 3, 4, 5]
        # the parent's listener is undisturbed by the child's exit: it hears another store
        with agentstore.open(notify_policy) as other:
            other.log("n", writer="other").append(b"x")
        wait_for(lambda: any(e.writer == "other" for e in heard))
        assert [e.seq for e in heard if e.writer == "parent"] == list(range(1, 7))


def wait_for(done: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the doorbell")
        time.sleep(0.02)


def test_a_store_on_an_application_connection_refuses_in_a_child(
    pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    pg_conn.execute(f"CREATE SCHEMA {pg_schema}")
    pg_conn.execute(f"SET search_path = {pg_schema}")
    with agentstore_postgres.open_on_connection(pg_conn) as store:
        store.log("s", writer="w").append(b"one")

        def in_child(child: Child) -> Any:
            try:
                store.log("s", writer="w").append(b"from-child")
            except StoreError as exc:
                return str(exc)
            return "appended"

        child = Child(in_child)
        try:
            message = child.result()
        finally:
            child.close()
        assert "opened in a parent process" in message
        assert store.log("s", writer="w").append(b"two").seq == 2  # the parent's is intact
        assert store.log("s", writer="w").verify() == 2


def test_a_fork_while_the_parents_threads_append(policy: StorePolicy) -> None:
    # Connections are checked out by the parent's threads at the moment of the fork.
    with agentstore.open(policy) as store:
        stop = threading.Event()
        acked: list[list[Any]] = []
        errors: list[BaseException] = []

        def keep_appending(t: int) -> None:
            log = store.log("shared", writer="w")
            i = 0
            try:
                while not stop.is_set():
                    payload = f"busy-{t}-{i}"
                    acked.append([log.append(payload.encode()).seq, payload])
                    i += 1
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=keep_appending, args=(t,), daemon=True) for t in range(3)
        ]
        for t in threads:
            t.start()
        try:
            while len(acked) < 30:
                time.sleep(0.01)

            def in_child(child: Child) -> Any:
                return append_in_threads(store, "shared", "w", "child")

            child = Child(in_child)
            try:
                from_child = child.result()
            finally:
                child.close()
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not errors, errors
        assert_log_holds_exactly(store, "shared", "w", [*acked, *from_child])


def test_inherited_connections_finalized_in_a_child_leave_the_parent_intact(
    policy: StorePolicy,
) -> None:
    # What a child's interpreter does at exit: collect every object it inherited.
    from agentstore_postgres import forksafe

    with agentstore.open(policy) as store:
        append_in_threads(store, "before", "w", "warm")

        def in_child(child: Child) -> Any:
            store.log("child", writer="w").append(b"one")
            forksafe._abandoned.clear()
            gc.collect()
            return "collected"

        child = Child(in_child)
        try:
            assert child.result() == "collected"
        finally:
            child.close()
        assert_pool_serves(store, "parent")
