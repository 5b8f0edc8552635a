"""Inputs one backend could store and another could not are refused by the core, alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import agentstore
import pytest
from agentstore import InvalidInput, StorePolicy


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[agentstore.Store]:
    if request.param == "memory":
        policy = StorePolicy("memory")
    else:
        policy = StorePolicy("sqlite", sections={"sqlite": {"path": str(tmp_path / "s.db")}})
    with agentstore.open(policy) as s:
        yield s


def test_lone_surrogate_names_are_refused(store: agentstore.Store) -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        store.log("a\ud800", writer="w")
    with pytest.raises(InvalidInput, match="surrogate"):
        store.generation("g\udfff")
    with pytest.raises(InvalidInput, match="surrogate"):
        store.rate_limits.increment("k\ud800")
    assert store.logs() == []


def test_non_ascii_names_are_fine(store: agentstore.Store) -> None:
    log = store.log("conversación", writer="écrivain")
    assert log.append(b"x").seq == 1
    assert store.rate_limits.increment("clé") == 1
    assert store.logs() == [("conversación", "écrivain")]


def test_integers_beyond_64_bits_are_refused(store: agentstore.Store) -> None:
    gen = store.generation("g")
    with pytest.raises(InvalidInput, match="64-bit"):
        gen.advance_to(2**63)
    assert gen.current() == 0
    assert gen.advance_to(2**63 - 1) == 2**63 - 1
    with pytest.raises(InvalidInput, match="64-bit"):
        store.rate_limits.increment("k", 2**64)
    assert store.rate_limits.current("k") == 0


@pytest.mark.parametrize("amount", [0, -1, True, 1.5, "1"])
def test_bad_amounts_are_refused(store: agentstore.Store, amount: object) -> None:
    with pytest.raises(InvalidInput, match="amount"):
        store.rate_limits.increment("k", amount)  # type: ignore[arg-type]
    assert store.rate_limits.current("k") == 0


@pytest.mark.parametrize("window", [0, -1.0, float("inf"), float("nan"), True, "60"])
def test_bad_windows_are_refused(store: agentstore.Store, window: object) -> None:
    with pytest.raises(InvalidInput, match="window_secs"):
        store.rate_limits.increment("k", 1, window)  # type: ignore[arg-type]
    assert store.rate_limits.current("k") == 0


def test_integer_windows_are_accepted(store: agentstore.Store) -> None:
    assert store.rate_limits.increment("k", 2, 60) == 2
    assert store.rate_limits.increment("k", 3, 60.0) == 5


def test_reserved_stream_prefix_is_refused_on_the_handle_too(store: agentstore.Store) -> None:
    with pytest.raises(InvalidInput, match="reserved"):
        store.log("agentstore:audit", writer="audit")
