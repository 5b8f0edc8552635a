"""Positions, the feed and conditional appends on SQLite, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import agentstore
import pytest
from sqlite_helpers import open_file_store

CHILD = Path(__file__).with_name("feed_child.py")


def _start(mode: str, db: Path, arg: int, count: int) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), mode, str(db), str(arg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            _kill(procs)
            raise AssertionError(f"child did not start: {line!r} {p.communicate()[1]}")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def _finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Each child's last line of output; every child must exit 0 with nothing on stderr."""
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert err == ""
        outs.append(out.strip().splitlines()[-1])
    return outs


def _kill(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate()


def test_positions_are_dense_and_follow_commits_across_stores(db: Path) -> None:
    # Two stores on one file take turns: each one's remembered next position is taken by
    # the other, so appends fall back to reading positions back; none repeats or is lost.
    a, b = open_file_store(db), open_file_store(db)
    try:
        got = []
        for i in range(40):
            store = a if i % 3 else b
            got.append(store.log("s", writer="a" if i % 2 else "b").append(b"%d" % i))
        got += a.log("s", writer="a").append_many([b"x", b"y"])
        got.append(b.log("s", writer="b").append(b"z"))
        positions = [e.position for e in got]
        assert positions == list(range(1, len(got) + 1))
        events = list(a.feed())
        assert [(e.stream, e.writer, e.seq, e.position) for e in events] == [
            (e.stream, e.writer, e.seq, e.position) for e in got
        ]
        assert a.position() == b.position() == len(got)
        # each entry read back carries the position it was appended with
        for store in (a, b):
            for w in ("a", "b"):
                mine = [e for e in got if e.writer == w]
                assert list(store.log("s", writer=w).entries()) == mine
    finally:
        a.close()
        b.close()


def test_a_store_that_alone_appends_passes_positions_and_recovers_when_not(db: Path) -> None:
    a = open_file_store(db)
    b = open_file_store(db)
    try:
        log = a.log("s", writer="w")
        first = [log.append(b"%d" % i).position for i in range(30)]  # reaches guessing
        b.log("t", writer="w").append(b"other")  # takes the next position
        after = [log.append(b"more %d" % i).position for i in range(3)]
        assert first == list(range(1, 31))
        assert after == [32, 33, 34]
        assert [e.position for e in a.feed(after=30)] == [31, 32, 33, 34]
        assert log.verify() == 33
    finally:
        a.close()
        b.close()


def test_feed_has_no_late_gaps_while_processes_append(db: Path) -> None:
    writers, each = 4, 150
    with open_file_store(db) as store:
        procs = _start("append", db, each, writers)
        try:
            seen: list[agentstore.CommitEvent] = []
            deadline = time.monotonic() + 120
            while len(seen) < writers * each and time.monotonic() < deadline:
                after = seen[-1].position if seen else 0
                page = list(store.feed(after=after, limit=37))
                # every read continues exactly where the last stopped: a dense prefix
                assert [e.position for e in page] == list(range(after + 1, after + 1 + len(page)))
                seen += page
            outs = _finish(procs)
        finally:
            _kill(procs)
        assert outs == ["done"] * writers
        seen += store.feed(after=seen[-1].position)
        assert [e.position for e in seen] == list(range(1, writers * each + 1))
        # nothing appeared later below a position already read
        assert list(store.feed()) == seen
        by_writer: dict[str, list[int]] = {}
        for e in seen:
            by_writer.setdefault(e.writer, []).append(e.seq)
        assert len(by_writer) == writers
        assert all(seqs == list(range(1, each + 1)) for seqs in by_writer.values())
        # a stream read across the writers gives the same order
        assert [(e.writer, e.seq) for e in store.stream("feed").entries()] == [
            (e.writer, e.seq) for e in seen
        ]


def test_expect_head_across_processes_has_exactly_one_winner(db: Path) -> None:
    with open_file_store(db) as store:
        log = store.log("race", writer="w")
        for head in range(3):
            procs = _start("append-if", db, head, 4)
            try:
                outs = _finish(procs)
            finally:
                _kill(procs)
            won = [o for o in outs if o.startswith("won")]
            assert len(won) == 1, outs
            assert sorted(o for o in outs if o.startswith("moved")) == [f"moved {head + 1}"] * 3
            assert log.head() is not None
            assert log.head().seq == head + 1  # type: ignore[union-attr]
            assert won[0] == f"won {log.head().position}"  # type: ignore[union-attr]
        assert log.verify() == 3


def _race(db: Path, shared: agentstore.Store | None, head: int, n: int) -> list[str]:
    """``n`` threads try one append each with ``expect_head=head``, on ``shared`` or on a
    store of their own; what each got."""
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def work() -> None:
        store = shared or open_file_store(db)
        try:
            barrier.wait()
            store.log("race", writer="w").append(b"turn", expect_head=head)
            results.append("won")
        except agentstore.HeadMoved as exc:
            results.append(f"moved {exc.actual}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            if store is not shared:
                store.close()

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


@pytest.mark.parametrize("stores", ["one store", "a store per thread"])
def test_expect_head_across_threads_has_exactly_one_winner(db: Path, stores: str) -> None:
    shared = open_file_store(db)
    try:
        for head in range(4):
            results = _race(db, shared if stores == "one store" else None, head, 6)
            assert sorted(results) == sorted(["won"] + [f"moved {head + 1}"] * 5)
        log = shared.log("race", writer="w")
        assert [e.seq for e in log.entries()] == [1, 2, 3, 4]
        assert log.verify() == 4
    finally:
        shared.close()


def test_a_refused_conditional_batch_writes_nothing(store: agentstore.Store) -> None:
    log = store.log("s", writer="w")
    log.append_many([b"a", b"b"], expect_head=0)
    with pytest.raises(agentstore.HeadMoved, match="expected head 1 but the head is 2"):
        log.append_many([b"c", b"d"], expect_head=1)
    assert [e.payload for e in log.entries()] == [b"a", b"b"]
    assert store.position() == 2
    assert [e.position for e in log.append_many([b"c", b"d"], expect_head=2)] == [3, 4]


def test_stream_entries_start_inside_long_logs(db: Path) -> None:
    with open_file_store(db) as store:
        a, b = store.log("s", writer="a"), store.log("s", writer="b")
        store.log("other", writer="a").append(b"elsewhere")
        for i in range(300):
            (a if i % 3 else b).append(b"%d" % i)
        everything = list(store.stream("s").entries())
        assert [e.position for e in everything] == list(range(2, 302))
        for after in (0, 1, 2, 57, 150, 299, 300, 301, 500):
            got = list(store.stream("s").entries(after=after))
            assert got == [e for e in everything if e.position > after]
