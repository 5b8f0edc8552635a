"""The Doorbell on its own: fan-out, snapshots, failures, unsubscribing."""

from __future__ import annotations

import logging

import pytest
from agentstore import CommitEvent, Doorbell, InvalidInput

EVENT = CommitEvent("s", "w", 1, bytes(32))


def test_fan_out_in_subscription_order() -> None:
    bell = Doorbell()
    calls: list[str] = []
    bell.subscribe(lambda e: calls.append("a"))
    bell.subscribe(lambda e: calls.append("b"))
    bell.ring(EVENT)
    assert calls == ["a", "b"]
    assert bell.subscriber_count == 2


def test_subscribing_while_ringing_takes_effect_next_time() -> None:
    bell = Doorbell()
    calls: list[str] = []

    def first(event: CommitEvent) -> None:
        calls.append("first")
        bell.subscribe(lambda e: calls.append("late"))

    handle = bell.subscribe(first)
    bell.ring(EVENT)
    assert calls == ["first"]
    handle.unsubscribe()
    bell.ring(EVENT)
    assert calls == ["first", "late"]


def test_failing_subscriber_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    bell = Doorbell()
    seen: list[int] = []

    def broken(event: CommitEvent) -> None:
        raise RuntimeError("bug in subscriber")

    bell.subscribe(broken)
    bell.subscribe(lambda e: seen.append(e.seq))
    with caplog.at_level(logging.ERROR, logger="agentstore.doorbell"):
        bell.ring(EVENT)
    assert seen == [1]
    (record,) = caplog.records
    assert "s/w seq 1" in record.getMessage()
    assert record.exc_info is not None


def test_unsubscribe_is_idempotent_and_a_context_manager() -> None:
    bell = Doorbell()
    seen: list[int] = []
    with bell.subscribe(lambda e: seen.append(e.seq)) as handle:
        bell.ring(EVENT)
    handle.unsubscribe()
    handle.close()
    bell.ring(EVENT)
    assert seen == [1]
    assert bell.subscriber_count == 0


def test_subscriber_must_be_callable() -> None:
    bell = Doorbell()
    with pytest.raises(InvalidInput, match="callable") as info:
        bell.subscribe("not callable")  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert bell.subscriber_count == 0


def test_the_same_function_twice_is_two_subscriptions() -> None:
    bell = Doorbell()
    seen: list[int] = []
    first = bell.subscribe(seen.append)  # type: ignore[arg-type]
    bell.subscribe(seen.append)  # type: ignore[arg-type]
    first.unsubscribe()
    bell.ring(EVENT)
    assert seen == [EVENT]
