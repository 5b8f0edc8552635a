"""agentstore.open and Store: routing, the clock, closing, and cleaning up a failed open."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import agentstore
import agentstore.driver
import pytest
from agentstore import (
    BackendUnavailable,
    MissingCapability,
    Store,
    StoreError,
    StorePolicy,
)
from agentstore.conformance import FakeClock
from agentstore.registry import DriverStores, OpenContext
from core_drivers import SECRET, NativeError, Recorder, private_registry, recording_spec


def test_context_manager_closes_every_driver() -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("a", rec), recording_spec("b", rec))
    policy = StorePolicy("a", capabilities={"rate_limits": "b", "lifecycle": "b"})
    with agentstore.open(policy, registry=registry) as store:
        assert sorted(rec.events) == ["open a", "open b"]
        assert not store.closed
    assert store.closed
    assert sorted(rec.events) == ["close a", "close b", "open a", "open b"]
    store.close()  # idempotent: nothing is closed twice
    assert len(rec.events) == 4


def test_each_driver_opens_only_its_capabilities() -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("a", rec), recording_spec("b", rec))
    policy = StorePolicy("a", capabilities={"rate_limits": "b", "lifecycle": "b"})
    with agentstore.open(policy, registry=registry) as store:
        by_name = dict(zip(("a", "b"), rec.contexts, strict=True))
        assert by_name["b"].capabilities == {"rate_limits", "lifecycle"}
        assert by_name["a"].capabilities == set(agentstore.CAPABILITIES) - {
            "rate_limits",
            "lifecycle",
        }
        assert store.routes["rate_limits"] == "b"
        assert store.routes["logs"] == "a"
        # One doorbell per store, handed to every driver.
        assert by_name["a"].doorbell is by_name["b"].doorbell is store.doorbell


def test_close_after_exception_inside_with() -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("a", rec))
    with pytest.raises(ZeroDivisionError), agentstore.open(StorePolicy("a"), registry=registry):
        1 / 0  # noqa: B018
    assert rec.events == ["open a", "close a"]


def test_failed_open_closes_what_was_opened() -> None:
    rec = Recorder()

    def fail() -> NoReturn:
        raise NativeError(f"cannot connect; password={SECRET}")

    registry = private_registry(recording_spec("a", rec), recording_spec("b", rec, fail_open=fail))
    policy = StorePolicy("a", capabilities={"rate_limits": "b"})
    with pytest.raises(BackendUnavailable) as info:
        agentstore.open(policy, registry=registry)
    assert rec.events == ["open a", "open-failed b", "close a"]
    assert isinstance(info.value.__cause__, NativeError)
    assert "'b'" in str(info.value)
    assert SECRET not in str(info.value)


def test_failed_open_reraises_a_store_error_unchanged() -> None:
    rec = Recorder()

    def fail() -> NoReturn:
        raise BackendUnavailable("db.example:5432 is not answering")

    registry = private_registry(recording_spec("a", rec), recording_spec("b", rec, fail_open=fail))
    with pytest.raises(BackendUnavailable, match=r"db\.example:5432"):
        agentstore.open(StorePolicy("a", capabilities={"audit": "b"}), registry=registry)
    assert rec.events == ["open a", "open-failed b", "close a"]


def test_failed_open_survives_a_failing_close() -> None:
    rec = Recorder()

    def fail() -> NoReturn:
        raise NativeError("no route")

    registry = private_registry(
        recording_spec("a", rec, fail_close=True), recording_spec("b", rec, fail_open=fail)
    )
    with pytest.raises(BackendUnavailable) as info:
        agentstore.open(StorePolicy("a", capabilities={"audit": "b"}), registry=registry)
    assert isinstance(info.value.__cause__, NativeError)
    assert "no route" in str(info.value.__cause__)  # the open failure, not the close one
    assert rec.events == ["open a", "open-failed b", "close a"]


def test_driver_missing_a_declared_store_is_refused_and_closed() -> None:
    closed: list[str] = []

    def _open(config: object, context: OpenContext) -> DriverStores:
        return DriverStores(close=lambda: closed.append("closed"))

    registry = private_registry(agentstore.driver.DriverSpec(name="hollow", open=_open))
    with pytest.raises(MissingCapability, match="hollow"):
        agentstore.open(StorePolicy("hollow"), registry=registry)
    assert closed == ["closed"]


def test_native_error_on_close_becomes_store_error() -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("a", rec, fail_close=True), recording_spec("b", rec))
    store = agentstore.open(StorePolicy("a", capabilities={"audit": "b"}), registry=registry)
    with pytest.raises(StoreError) as info:
        store.close()
    assert isinstance(info.value.__cause__, NativeError)
    assert SECRET not in str(info.value)
    assert sorted(rec.events) == ["close a", "close b", "open a", "open b"]  # b closed too
    assert store.closed


def test_clock_reaches_the_drivers() -> None:
    rec = Recorder()
    clock = FakeClock(1000.0)
    with agentstore.open(
        StorePolicy("a"), registry=private_registry(recording_spec("a", rec)), clock=clock
    ) as store:
        assert rec.contexts[0].clock is clock
        agent = agentstore.AgentId.new()
        store.lifecycle.register(agent)
        assert store.lifecycle.info(agent).registered_at == 1000.0


def test_open_takes_a_path(tmp_path: Path) -> None:
    rec = Recorder()
    (tmp_path / "policy.toml").write_text('[store]\nbackend = "a"\n')
    registry = private_registry(recording_spec("a", rec))
    with agentstore.open(tmp_path / "policy.toml", registry=registry) as store:
        assert store.policy.backend == "a"
        assert rec.contexts[0].base_dir == tmp_path.resolve()
    with agentstore.open(str(tmp_path / "policy.toml"), registry=registry) as store:
        assert store.policy.source == str(tmp_path / "policy.toml")


def test_open_finds_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder()
    registry = private_registry(recording_spec("a", rec), recording_spec("b", rec))
    (tmp_path / "agentstore.toml").write_text('[store]\nbackend = "a"\n')
    (tmp_path / "other.toml").write_text('[store]\nbackend = "b"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTSTORE_CONFIG", raising=False)
    with agentstore.open(registry=registry) as store:  # ./agentstore.toml
        assert store.policy.backend == "a"
    monkeypatch.setenv("AGENTSTORE_CONFIG", str(tmp_path / "other.toml"))
    with agentstore.open(registry=registry) as store:  # $AGENTSTORE_CONFIG wins
        assert store.policy.backend == "b"
    monkeypatch.setenv("AGENTSTORE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(agentstore.ConfigError, match=r"missing\.toml"):
        agentstore.open(registry=registry)


def test_open_without_any_policy_is_the_sqlite_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTSTORE_CONFIG", raising=False)
    registry = private_registry()  # memory only: the default names sqlite
    with pytest.raises(agentstore.UnknownDriver, match="pip install agentstore-sqlite"):
        agentstore.open(registry=registry)
    assert os.listdir(tmp_path) == []


def test_store_repr_names_drivers_only() -> None:
    with agentstore.open(StorePolicy("memory"), registry=private_registry()) as store:
        assert repr(store) == "<agentstore.Store drivers=['memory'] closed=False>"
    assert "closed=True" in repr(store)
    assert isinstance(store, Store)


@pytest.mark.parametrize("source", [42, b"agentstore.toml", ["agentstore.toml"]])
def test_a_source_of_another_type_is_invalid_input(source: object) -> None:
    """It once raised pathlib's TypeError, not a StoreError."""
    with pytest.raises(agentstore.InvalidInput, match="source"):
        agentstore.open(source)  # type: ignore[arg-type]


def test_a_clock_that_is_not_callable_is_refused_when_opening() -> None:
    """It was taken, and every call that reads the clock then raised TypeError."""
    with pytest.raises(agentstore.InvalidInput, match="clock"):
        agentstore.open(StorePolicy("memory"), clock=1_700_000_000.0)  # type: ignore[arg-type]
