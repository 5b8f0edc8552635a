"""A SQLite store used on both sides of ``os.fork()``: the child on a connection of its own.

Every test forks for real (``os.fork`` or multiprocessing's ``fork`` context) after the
parent has used its connection, with threads of the parent appending.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentstore_sqlite
import pytest
from agentstore import StoreError
from forked import (
    EACH,
    THREADS,
    Child,
    append_in_threads,
    assert_log_holds_exactly,
    check_a_child_killed_mid_append,
    deadline,
)
from sqlite_helpers import open_file_store


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with deadline(90):
        yield


def test_parent_and_forked_child_append_at_once(db: Path) -> None:
    with open_file_store(db) as store:
        first = store.log("shared", writer="w").append(b"before-fork")

        def in_child(child: Child) -> Any:
            child.wait_go()
            own = [
                [store.log("child-only", writer="w").append(f"c{i}".encode()).seq, f"c{i}"]
                for i in range(20)
            ]
            shared = append_in_threads(store, "shared", "w", "child")
            store.close()
            return {"shared": shared, "own": own}

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
    with open_file_store(db) as again:  # and as another process will find the file
        assert_log_holds_exactly(again, "shared", "w", acked)


def test_the_child_keeps_its_commits_when_the_parent_closes_the_file(db: Path) -> None:
    # A child that reused SQLite's inherited record of the parent's locks would hold
    # no real lock on the file: the parent, closing last, would checkpoint and delete
    # the WAL under the child's later commits.
    store = open_file_store(db)
    store.log("shared", writer="w").append(b"before-fork")

    def in_child(child: Child) -> Any:
        log = store.log("child", writer="w")
        acked = [[log.append(f"c{i}".encode()).seq, f"c{i}"] for i in range(50)]
        child.send("halfway")
        child.wait_go()
        acked += [[log.append(f"c{i}".encode()).seq, f"c{i}"] for i in range(50, 200)]
        return acked

    child = Child(in_child)
    try:
        assert child.message() == "halfway"
        store.close()  # the parent's last connection to the file
        child.go()
        acked = child.result()
    finally:
        child.close()
    with open_file_store(db) as again:
        assert_log_holds_exactly(again, "child", "w", acked)
        assert again.log("shared", writer="w").verify() == 1


def _mp_child(store: Any, go: Any, conn: Any) -> None:
    go.wait(30)
    conn.send(append_in_threads(store, "shared", "w", "mp"))
    conn.close()


def test_multiprocessing_fork_context_child_appends_beside_the_parent(db: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    with open_file_store(db) as store:
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


def test_the_parent_keeps_working_after_a_child_is_killed_mid_append(db: Path) -> None:
    with open_file_store(db) as store:
        check_a_child_killed_mid_append(store)


@pytest.mark.parametrize("kind", ["wrapped", "memory"])
def test_stores_that_cannot_reopen_refuse_in_a_child(db: Path, kind: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    if kind == "wrapped":
        store = agentstore_sqlite.open_on_connection(conn)
    else:
        store = open_file_store(":memory:")
    with store:
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
        assert "open a" in message  # says what to do
        assert store.log("s", writer="w").append(b"two").seq == 2
        assert store.log("s", writer="w").verify() == 2
    conn.close()


def test_forks_while_the_parents_threads_append(db: Path) -> None:
    # The parent's threads are inside SQLite transactions at any moment: a fork waits
    # for the one in progress, so every child starts clean and can write.
    with open_file_store(db) as store:
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
        from_children: list[list[Any]] = []
        try:
            for _ in range(5):
                time.sleep(0.05)

                def in_child(child: Child) -> Any:
                    log = store.log("shared", writer="w")
                    return [[log.append(f"c{i}".encode()).seq, f"c{i}"] for i in range(20)]

                child = Child(in_child)
                try:
                    from_children += child.result()
                finally:
                    child.close()
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        assert not errors, errors
        assert_log_holds_exactly(store, "shared", "w", [*acked, *from_children])
