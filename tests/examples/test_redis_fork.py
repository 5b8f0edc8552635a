"""agentstore-redis across ``os.fork()``: redis-py's pool gives the child its own sockets.

redis-py's connection pool notices a new process id and opens fresh connections there,
and a connection closed in another process is closed without a shutdown of the shared
socket; these tests hold the example driver to that with real forks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import agentstore
import pytest
from agentstore import StorePolicy
from forked import (
    EACH,
    THREADS,
    Child,
    append_in_threads,
    assert_log_holds_exactly,
    check_a_child_killed_mid_append,
    deadline,
)


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with deadline(90):
        yield


def test_parent_and_forked_child_append_at_once(redis_policy: StorePolicy) -> None:
    with agentstore.open(redis_policy) as store:
        first = store.log("shared", writer="w").append(b"before-fork")

        def in_child(child: Child) -> Any:
            child.wait_go()
            shared = append_in_threads(store, "shared", "w", "child")
            store.close()  # closes the child's sockets, never shuts the parent's down
            return shared

        child = Child(in_child)
        try:
            child.go()
            parent = append_in_threads(store, "shared", "w", "parent")
            shared = child.result()
        finally:
            child.close()
        acked = [[first.seq, "before-fork"], *parent, *shared]
        assert len(acked) == 1 + 2 * THREADS * EACH
        assert_log_holds_exactly(store, "shared", "w", acked)
        # the parent's pool is intact after the child closed its copy and exited
        after = append_in_threads(store, "after", "w", "parent")
        assert_log_holds_exactly(store, "after", "w", after)


def test_the_parent_keeps_working_after_a_child_is_killed_mid_append(
    redis_policy: StorePolicy,
) -> None:
    with agentstore.open(redis_policy) as store:
        check_a_child_killed_mid_append(store)
