"""Running test code in a real ``os.fork()`` child, with a deadline, for the fork tests.

A child runs a function and sends its JSON-able result (or its traceback) up a pipe, then
leaves with ``os._exit``: it never returns into pytest. The parent never waits past the
deadline: a child still running then is SIGKILLed and the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from agentstore import Store

THREADS = 3
EACH = 50  # appends per thread: 150 per process to a shared log


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread if the block runs past ``seconds``: a test
    whose parent is stuck on a connection a child broke fails instead of hanging."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the test did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Child:
    """A forked child running ``fn(child)``: there ``child.send(obj)`` writes one JSON line
    to the parent and ``child.wait_go()`` waits for the parent's :meth:`go`."""

    def __init__(self, fn: Callable[[Child], Any]) -> None:
        read, write = os.pipe()
        go_read, self._go = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads may deadlock: that
            # is the very case these tests check.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read)
                os.close(self._go)
                self._out = os.fdopen(write, "w", buffering=1)
                self._go_in = go_read
                self.send({"result": fn(self)})
                code = 0
            except BaseException:
                with contextlib.suppress(BaseException):
                    os.write(write, (json.dumps({"error": traceback.format_exc()}) + "\n").encode())
            finally:
                os._exit(code)
        os.close(write)
        os.close(go_read)
        self.pid = pid
        self._code: int | None = None
        self._in = os.fdopen(read, "r")
        self._buf = ""

    def send(self, obj: Any) -> None:
        """In the child: send ``obj`` (JSON-able) to the parent."""
        self._out.write(json.dumps(obj) + "\n")

    def wait_go(self) -> None:
        """In the child: block until the parent calls :meth:`go`."""
        os.read(self._go_in, 1)

    def go(self) -> None:
        """Release a child blocked in :meth:`wait_go`."""
        os.write(self._go, b"g")

    def message(self, timeout: float = 30) -> Any:
        """The child's next message: what it sent, or its result (raising on its error)."""
        deadline = time.monotonic() + timeout
        while "\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                self.kill()
                raise AssertionError(f"the forked child sent nothing within {timeout} s")
            chunk = os.read(self._in.fileno(), 65536).decode()
            if not chunk:
                raise AssertionError(
                    f"the forked child ended without a message (code {self.wait()})"
                )
            self._buf += chunk
        line, self._buf = self._buf.split("\n", 1)
        data = json.loads(line)
        if isinstance(data, dict) and "error" in data:
            raise AssertionError(f"the forked child failed:\n{data['error']}")
        return data

    def result(self, timeout: float = 60) -> Any:
        """The child's return value; it must then exit 0 within the deadline."""
        while True:
            data = self.message(timeout)
            if isinstance(data, dict) and "result" in data:
                break
        assert self.wait(timeout) == 0
        return data["result"]

    def wait(self, timeout: float = 30) -> int:
        """The child's exit status (negative: killed by that signal), killing it at the deadline."""
        deadline = time.monotonic() + timeout
        while self._code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the forked child did not exit within {timeout} s")
            time.sleep(0.01)
        return self._code

    def kill(self) -> None:
        """SIGKILL the child if it still runs, and reap it."""
        if self._code is not None:
            return  # reaped: its pid may belong to another process now
        os.kill(self.pid, signal.SIGKILL)
        self._code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])

    def close(self) -> None:
        self.kill()
        self._in.close()
        os.close(self._go)


def append_in_threads(store: Store, stream: str, writer: str, tag: str) -> list[list[Any]]:
    """THREADS threads each append EACH payloads; the acknowledged ``[seq, payload]``s."""
    acked: list[list[Any]] = []
    errors: list[BaseException] = []

    def work(t: int) -> None:
        log = store.log(stream, writer=writer)
        try:
            for i in range(EACH):
                payload = f"{tag}-{t}-{i}"
                acked.append([log.append(payload.encode()).seq, payload])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "an appending thread hangs"
    assert not errors, errors
    return acked


def assert_log_holds_exactly(
    store: Store, stream: str, writer: str, acked: list[list[Any]]
) -> None:
    """The log is every acknowledged append exactly once, seqs contiguous, chain intact."""
    log = store.log(stream, writer=writer)
    assert log.verify() == len(acked)
    stored = [(e.seq, e.payload.decode()) for e in log.entries()]
    assert [seq for seq, _ in stored] == list(range(1, len(acked) + 1))
    assert sorted(stored) == sorted((seq, payload) for seq, payload in acked)


def check_a_child_killed_mid_append(store: Store) -> None:
    """A forked child appends to the parent's log ``shared``/``w`` until SIGKILLed mid-stream:
    every append acknowledged to either process is stored exactly once, the chain verifies,
    and the parent's store keeps working from several threads after."""
    log = store.log("shared", writer="w")
    log.append(b"before-fork")

    def in_child(child: Child) -> Any:
        for i in range(100_000):
            child.send([log.append(f"c{i}".encode()).seq, f"c{i}"])
        return None

    child = Child(in_child)
    acked: list[list[Any]] = [[1, "before-fork"]]
    try:
        parent = []
        for i in range(60):
            parent.append([log.append(f"p{i}".encode()).seq, f"p{i}"])
            acked.append(child.message())
        child.kill()  # SIGKILL, in the middle of its stream of appends
    finally:
        child.close()
    parent += append_in_threads(store, "shared", "w", "after-kill")
    entries = {e.seq: e.payload.decode() for e in log.entries()}
    total = log.verify()
    assert len(entries) == total
    for seq, payload in [*acked, *parent]:  # every acknowledged append, exactly once
        assert entries[seq] == payload
    assert len(set(entries.values())) == total
    # the child's appends after its last report may or may not have committed
    assert total >= len(acked) + len(parent)
