"""The StoreError hierarchy: one base, standard bases where callers expect them."""

from __future__ import annotations

import agentstore
import pytest
from agentstore import (
    BackendUnavailable,
    ChainBroken,
    ConfigError,
    Conflict,
    DuplicateDriver,
    InvalidInput,
    InvalidPolicy,
    MissingCapability,
    MissingDriverSection,
    MissingEnvironmentVariable,
    NonMonotonicGeneration,
    NotFound,
    SchemaVersionError,
    StoreError,
    UnknownDriver,
)

CONFIG_KINDS = [
    InvalidPolicy,
    UnknownDriver,
    MissingDriverSection,
    MissingCapability,
    DuplicateDriver,
    MissingEnvironmentVariable,
]


@pytest.mark.parametrize(
    "kind",
    [NotFound, Conflict, InvalidInput, BackendUnavailable, SchemaVersionError, ConfigError],
)
def test_every_error_is_a_store_error(kind: type[StoreError]) -> None:
    err = kind("what happened")
    assert isinstance(err, StoreError)
    assert err.message == "what happened"
    assert str(err) == "what happened"


@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_config_error_kinds(kind: type[ConfigError]) -> None:
    err = kind("fix it", path="store.x")
    assert isinstance(err, ConfigError)
    assert err.path == "store.x"
    assert str(err) == "store.x: fix it"
    assert str(kind("no path")) == "no path"


def test_not_found_is_a_key_error_with_a_plain_message() -> None:
    err = NotFound("no secret named 'k'")
    assert isinstance(err, KeyError)
    assert str(err) == "no secret named 'k'"  # KeyError would have quoted it
    with pytest.raises(KeyError):
        raise err


def test_invalid_input_is_a_value_error() -> None:
    assert isinstance(InvalidInput("x"), ValueError)


def test_chain_broken_fields() -> None:
    err = ChainBroken("conv", "alice", 4, "prev_hash does not match")
    assert (err.stream, err.writer, err.seq, err.detail) == (
        "conv",
        "alice",
        4,
        "prev_hash does not match",
    )
    assert str(err) == (
        "chain broken in stream 'conv', writer 'alice' at seq 4: prev_hash does not match"
    )


def test_non_monotonic_generation_fields() -> None:
    err = NonMonotonicGeneration("report", 7, 3)
    assert (err.name, err.current, err.requested) == ("report", 7, 3)
    assert "7" in str(err)
    assert "3" in str(err)


def test_every_public_error_is_exported() -> None:
    exported = {
        name
        for name in agentstore.__all__
        if isinstance(getattr(agentstore, name), type)
        and issubclass(getattr(agentstore, name), BaseException)
    }
    subclasses: set[str] = set()
    todo: list[type] = [StoreError]
    while todo:
        kind = todo.pop()
        subclasses.add(kind.__name__)
        todo.extend(kind.__subclasses__())
    assert subclasses <= exported
