"""``watch = true``: a store rings its doorbell for commits other processes make on its file.

Latency is measured by ``benchmarks/watch.py``; here a generous bound (far under the
one-second feed fallback of ``follow``, far over the 10 ms poll) only tells a watching store
from one that never rings for others.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import agentstore
import pytest
from agentstore import CommitEvent
from agentstore.conformance import DoorbellContract
from agentstore.conformance.contracts.conditional import ConditionalAppendContract
from agentstore.conformance.contracts.feed import FeedContract
from agentstore.driver import AUDIT_STREAM
from sqlite_helpers import open_file_store, sqlite_policy

CHILD = Path(__file__).with_name("watch_child.py")
GENEROUS = 1.0  # seconds: an event must ring within this of its commit (the poll is 20 ms)
SETTLE = 10.0  # seconds to wait for events that must come


class Heard:
    """A doorbell subscriber recording every event, the thread it rang on, and when."""

    def __init__(self) -> None:
        self.events: list[tuple[CommitEvent, float, str]] = []
        self._cond = threading.Condition()

    def __call__(self, event: CommitEvent) -> None:
        with self._cond:
            self.events.append((event, time.monotonic(), threading.current_thread().name))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = SETTLE) -> list[CommitEvent]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= count, timeout)
            return [e for e, _, _ in self.events]


class Child:
    """``watch_child.py`` appending ``n`` entries, one every ``pause`` seconds."""

    def __init__(self, db: Path, n: int, pause: float, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(db), str(n), str(pause), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"child did not start: {line!r} {err}")

    def run(self) -> list[tuple[int, float]]:
        """Let it append; ``(position, monotonic time of the commit)`` of each append."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        lines = out.split("\n")
        assert "done" in lines, out
        return [
            (int(p), float(t)) for p, t in (line.split() for line in lines[: lines.index("done")])
        ]


@pytest.fixture
def watching(db: Path) -> Iterator[agentstore.Store]:
    with open_file_store(db, watch=True) as s:
        yield s


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("agentstore-watch-")]


def test_another_process_commits_ring_here_in_position_order(
    watching: agentstore.Store, db: Path
) -> None:
    heard = Heard()
    watching.doorbell.subscribe(heard)
    start = watching.position()
    child = Child(db, 40, 0.005)
    commits = child.run()
    events = heard.wait_for(len(commits))
    time.sleep(0.1)  # a duplicate would ring within a few polls
    # Every entry the child committed rang here once, in position order, with its position.
    assert [e.position for e in events] == [p for p, _ in commits]
    assert [e.position for e in events] == [e.position for e in watching.feed(after=start)]
    assert all(e.stream == "shared" and e.writer == "child" for e in events)
    assert [e.seq for e in events] == list(range(1, len(commits) + 1))
    entries = list(watching.log("shared", writer="child").entries())
    assert [e.content_hash for e in events] == [e.content_hash for e in entries]
    # Rung by the watcher thread, promptly after each commit (see the module docstring).
    assert {name for _, _, name in heard.events} == {t.name for t in watch_threads()}
    lags = [
        at - committed for (_, at, _), (_, committed) in zip(heard.events, commits, strict=True)
    ]
    assert max(lags) < GENEROUS, lags


def test_audit_records_of_another_process_ring_too(watching: agentstore.Store, db: Path) -> None:
    heard = Heard()
    watching.doorbell.subscribe(heard)
    start = watching.position()
    Child(db, 5, 0, "audit").run()
    feed = list(watching.feed(after=start))
    assert len(feed) == 10
    assert heard.wait_for(10) == feed
    assert sum(e.stream == AUDIT_STREAM for e in feed) == 5


def test_own_appends_ring_once_while_another_process_appends(
    watching: agentstore.Store, db: Path
) -> None:
    heard = Heard()
    watching.doorbell.subscribe(heard)
    start = watching.position()
    child = Child(db, 60, 0.002)
    log = watching.log("shared", writer="parent")
    done = threading.Event()

    def child_runs() -> None:
        child.run()
        done.set()

    runner = threading.Thread(target=child_runs)
    runner.start()
    own = 0
    while not done.is_set() or own < 60:
        if own % 3 == 2:
            own += len(log.append_many([b"a", b"b"]))
        else:
            log.append(b"own")
            own += 1
        time.sleep(0.001)
    runner.join()
    total = len(list(watching.feed(after=start)))
    events = heard.wait_for(total)
    time.sleep(0.1)  # a duplicate would ring within a few polls
    events = [e for e, _, _ in heard.events]
    positions = [e.position for e in events]
    assert len(positions) == len(set(positions)) == total  # each once, none twice
    assert sorted(positions) == [e.position for e in watching.feed(after=start)]
    theirs = [e for e, _, name in heard.events if name.startswith("agentstore-watch-")]
    assert [e.writer for e in theirs] == ["child"] * 60  # own appends rang on this thread
    assert [e.position for e in theirs] == sorted(e.position for e in theirs)


def test_close_stops_the_thread_and_its_connection(db: Path) -> None:
    before = set(watch_threads())
    store = open_file_store(db, watch=True)
    started = [t for t in watch_threads() if t not in before]
    assert len(started) == 1 and started[0].daemon
    store.close()
    assert not started[0].is_alive()
    assert set(watch_threads()) == before


def test_without_watch_no_thread_and_nothing_rings_for_others(db: Path) -> None:
    before = set(watch_threads())
    with open_file_store(db) as store:
        assert set(watch_threads()) == before
        heard = Heard()
        store.doorbell.subscribe(heard)
        Child(db, 3, 0).run()
        time.sleep(0.2)
        assert heard.events == []


def test_another_store_in_this_process_rings_too(watching: agentstore.Store, db: Path) -> None:
    heard = Heard()
    watching.doorbell.subscribe(heard)
    with open_file_store(db) as other:
        entries = other.log("s", writer="other").append_many([b"1", b"2", b"3"])
    assert [e.position for e in heard.wait_for(3)] == [e.position for e in entries]


def test_no_read_transaction_holds_a_checkpoint_back(watching: agentstore.Store, db: Path) -> None:
    heard = Heard()
    watching.doorbell.subscribe(heard)
    Child(db, 20, 0).run()
    heard.wait_for(20)
    time.sleep(0.05)
    conn = sqlite3.connect(db)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    assert busy == 0
    assert os.path.getsize(f"{db}-wal") == 0


def test_a_subscriber_that_raises_does_not_stop_the_watcher(
    watching: agentstore.Store, db: Path
) -> None:
    def fail(event: CommitEvent) -> None:
        raise RuntimeError("subscriber failed")

    watching.doorbell.subscribe(fail)
    heard = Heard()
    watching.doorbell.subscribe(heard)
    Child(db, 3, 0).run()
    assert len(heard.wait_for(3)) == 3
    Child(db, 2, 0).run()
    assert len(heard.wait_for(5)) == 5


def test_a_subscriber_may_close_the_store(db: Path) -> None:
    store = open_file_store(db, watch=True)
    thread = next(t for t in watch_threads() if str(db) in t.name)
    closed = threading.Event()

    def close(event: CommitEvent) -> None:
        store.close()
        closed.set()

    store.doorbell.subscribe(close)
    Child(db, 2, 0).run()
    assert closed.wait(SETTLE)
    thread.join(SETTLE)
    assert not thread.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_watches_on_its_own_connection(watching: agentstore.Store, db: Path) -> None:
    watching.log("shared", writer="parent").append(b"before fork")
    read, write = os.pipe()
    go_read, go_write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        code = 1
        try:
            os.close(read)
            os.close(go_write)
            alive = [t for t in watch_threads() if t.is_alive()]
            heard = Heard()
            watching.doorbell.subscribe(heard)
            own = watching.log("shared", writer="forked").append(b"child")  # renews
            renewed = [t for t in watch_threads() if t.is_alive()]
            os.write(write, b"go\n")
            os.read(go_read, 10)  # the parent has appended
            events = heard.wait_for(2)
            report = f"{len(alive)} {len(renewed)} {own.position} " + ",".join(
                f"{e.writer}:{e.position}" for e in events
            )
            os.write(write, report.encode() + b"\n")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    os.close(go_read)
    try:
        with os.fdopen(read) as pipe:
            assert pipe.readline() == "go\n"
            parent = watching.log("shared", writer="parent").append(b"after fork")
            os.write(go_write, b"go\n")
            report = pipe.readline().split()
    finally:
        os.close(go_write)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    alive, renewed, own_position, events = int(report[0]), int(report[1]), report[2], report[3]
    assert alive == 0  # the parent's thread does not run in the child
    assert renewed == 1  # the child's first call started its own
    # The child heard its own append (on its thread) and the parent's (on the watcher).
    assert events.split(",") == [f"forked:{own_position}", f"parent:{parent.position}"]


def test_watch_needs_a_file() -> None:
    with pytest.raises(agentstore.ConfigError, match="watch"):
        agentstore.open(sqlite_policy(":memory:", watch=True))


def test_watch_is_a_setting_validate_and_init_know(tmp_path: Path) -> None:
    policy = tmp_path / "agentstore.toml"
    policy.write_text('[store]\nbackend = "sqlite"\n\n[store.sqlite]\nwatch = true\n')
    cli = [sys.executable, "-m", "agentstore"]
    checked = subprocess.run(
        [*cli, "validate", str(policy)], check=False, capture_output=True, text=True, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    policy.unlink()
    made = subprocess.run([*cli, "init"], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "# watch = false" in policy.read_text()


def test_async_store_follows_another_process_woken_by_the_watcher(db: Path) -> None:
    import asyncio

    import agentstore.aio

    async def main() -> tuple[list[int], list[int]]:
        async with agentstore.aio.open(sqlite_policy(db, watch=True)) as store:
            start = await store.position()
            events = store.doorbell.events()
            child = Child(db, 5, 0.01)
            running = asyncio.ensure_future(asyncio.to_thread(child.run))
            rung = []
            async for event in events:
                rung.append(event.position)
                if len(rung) == 5:
                    break
            await events.aclose()
            commits = await running
            assert [e.position async for e in store.feed(after=start)] == rung
            return rung, [p for p, _ in commits]

    rung, committed = asyncio.run(asyncio.wait_for(main(), 60))
    assert rung == committed


class TestWatchingStoreKeepsTheContracts(FeedContract, DoorbellContract, ConditionalAppendContract):
    """A watching store rings exactly as the contracts say (own appends once, on their
    thread; positions in the events), whatever its watcher thread does meanwhile."""

    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> agentstore.StorePolicy:
        return sqlite_policy(tmp_path / "conformance.db", watch=True)
