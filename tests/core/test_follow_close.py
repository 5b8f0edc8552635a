"""Closing a store (or a tenant view) ends its synchronous followers at once, with
StoreError, instead of at their next poll of the feed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import agentstore
import agentstore.feed
import pytest
from agentstore import CommitEvent, Store, StoreError, StorePolicy

LONG_POLL = 60.0  # without the wake-up a follower would sleep this long


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    sections = {"sqlite": {"path": str(tmp_path / "f.db")}} if request.param == "sqlite" else {}
    opened = agentstore.open(StorePolicy(request.param, sections=sections))
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _long_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agentstore.feed, "POLL_SECONDS", LONG_POLL)


class Follower:
    """``source.follow()`` on a thread, recording what it saw and how it ended."""

    def __init__(self, source: Store) -> None:
        self.seen: list[CommitEvent] = []
        self.error: BaseException | None = None
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self.thread.start()

    def _run(self, source: Store) -> None:
        try:
            for event in source.follow():
                self.seen.append(event)
                self.first.set()
        except BaseException as exc:
            self.error = exc

    def ended(self) -> bool:
        self.thread.join(timeout=10)  # far below LONG_POLL, far above a wake-up
        return not self.thread.is_alive()


def test_closing_the_store_ends_a_waiting_follower_at_once(store: Store) -> None:
    store.log("s", writer="w").append(b"x")
    follower = Follower(store)
    assert follower.first.wait(10)
    store.close()
    assert follower.ended()
    assert isinstance(follower.error, StoreError)
    assert [e.seq for e in follower.seen] == [1]


def test_closing_a_view_ends_its_followers_and_leaves_the_stores(store: Store) -> None:
    acme = store.tenant("acme")
    acme.log("s", writer="w").append(b"a")
    store.log("r", writer="w").append(b"r")
    of_view, of_store = Follower(acme), Follower(store)
    assert of_view.first.wait(10) and of_store.first.wait(10)
    acme.close()
    assert of_view.ended()
    assert isinstance(of_view.error, StoreError)
    assert of_store.thread.is_alive()
    store.log("r", writer="w").append(b"r2")  # the store's follower still follows
    deadline = threading.Event()
    for _ in range(100):
        if len(of_store.seen) == 3:
            break
        deadline.wait(0.05)
    assert [(e.stream, e.seq) for e in of_store.seen][-1] == ("r", 2)
    store.close()
    assert of_store.ended()


def test_closing_the_store_ends_its_views_followers(store: Store) -> None:
    acme = store.tenant("acme")
    acme.log("s", writer="w").append(b"a")
    follower = Follower(acme)
    assert follower.first.wait(10)
    store.close()
    assert follower.ended()
    assert isinstance(follower.error, StoreError)


def test_a_follower_started_after_the_close_ends_at_once(store: Store) -> None:
    store.close()
    follower = Follower(store)
    assert follower.ended()
    assert isinstance(follower.error, StoreError)
