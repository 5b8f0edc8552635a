"""Standard logging: named loggers the library never configures, INFO for lifecycle, one
DEBUG line per operation, and never a payload or a secret in any record."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import agentstore
import pytest
from agentstore import StorePolicy
from logged import assert_nothing_secret, assert_ops_logged, exercise

# Imports every first-party package and opens a store, then reports how logging is set up.
CONFIGURED = """
import json, logging, os, sys
root_handlers = list(logging.getLogger().handlers)
import agentstore, agentstore.aio, agentstore.cli, agentstore.conformance
import agentstore.kv, agentstore.sql
import agentstore_memory, agentstore_sqlite, agentstore_tiny
import agentstore_postgres.connect, agentstore_postgres.notify, agentstore_redis.keyvalue
policy = agentstore.StorePolicy("sqlite", sections={"sqlite": {"path": sys.argv[1]}})
with agentstore.open(policy) as s:
    s.log("s", writer="w").append(b"x")
ours = {
    name: {
        "handlers": [type(h).__name__ for h in logger.handlers],
        "level": logger.level,
        "propagate": logger.propagate,
    }
    for name, logger in logging.Logger.manager.loggerDict.items()
    if isinstance(logger, logging.Logger) and name.split(".")[0] == "agentstore"
}
print(json.dumps({
    "ours": ours,
    "root_handlers": len(logging.getLogger().handlers) - len(root_handlers),
    "root_level": logging.getLogger().level,
}))
"""


def test_the_library_never_configures_logging(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CONFIGURED, str(tmp_path / "a.db")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # nothing printed by a handler of ours, or lastResort
    found = json.loads(proc.stdout)
    assert found["root_handlers"] == 0
    assert found["root_level"] == logging.WARNING
    names = set(found["ours"])
    assert {"agentstore", "agentstore.ops", "agentstore.sqlite", "agentstore.memory"} <= names
    assert {"agentstore.postgres", "agentstore.redis"} <= names
    for name, state in found["ours"].items():
        assert set(state["handlers"]) <= {"NullHandler"}, name
        assert state["level"] == logging.NOTSET, name
        assert state["propagate"], name


def test_memory_every_operation_at_debug_and_lifecycle_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with agentstore.open(StorePolicy("memory")) as store:
        exercise(store)
    records = caplog.records
    assert_ops_logged(records)
    assert_nothing_secret(records)
    info = [(r.name, r.getMessage()) for r in records if r.levelno == logging.INFO]
    assert ("agentstore.memory", "opened an in-memory store (nothing outlives it)") in info
    assert ("agentstore", "opened store from a policy built in code: driver memory") in info
    assert ("agentstore", "closed store (driver memory)") in info
    assert ("agentstore.memory", "closed an in-memory store") in info


def test_sqlite_lifecycle_names_the_policy_file_the_database_and_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "conf.toml"
    policy.write_text('[store]\nbackend = "sqlite"\n[store.capabilities]\naudit = "memory"\n')
    monkeypatch.setenv("AGENTSTORE_CONFIG", str(policy))
    caplog.set_level(logging.DEBUG)
    with agentstore.open() as store:
        exercise(store)
    with agentstore.open():  # the schema is there now: no second "created"
        pass
    records = caplog.records
    assert_ops_logged(records)
    assert_nothing_secret(records)
    info = [(r.name, r.getMessage()) for r in records if r.levelno == logging.INFO]
    db = tmp_path / "agentstore.db"
    opened = (
        f"opened store from policy file {policy} (from $AGENTSTORE_CONFIG): "
        "drivers memory: audit; sqlite: generations, logs, policies, sessions, credentials, "
        "rate_limits, lifecycle"
    )
    assert ("agentstore", opened) in info
    created = [m for n, m in info if n == "agentstore.sqlite" and "created the agentstore" in m]
    assert len(created) == 1
    assert str(db) in created[0]
    assert ("agentstore.sqlite", f"opened {db} (synchronous=FULL, journal_mode=WAL)") in info
    assert [m for n, m in info if n == "agentstore.sqlite" and m == f"closed {db}"] == [
        f"closed {db}"
    ] * 2


def test_the_default_policy_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTSTORE_CONFIG", raising=False)
    caplog.set_level(logging.INFO, logger="agentstore")
    with agentstore.open(read_only=False):
        pass
    messages = [r.getMessage() for r in caplog.records if r.name == "agentstore"]
    assert "opened store from the built-in default policy: driver sqlite" in messages


def test_without_debug_no_operation_formats_a_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import agentstore.capabilities
    import agentstore.handles
    import agentstore.translate

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an operation line was built with DEBUG off")

    for module in (agentstore.translate, agentstore.handles, agentstore.capabilities):
        monkeypatch.setattr(module, "log_call", refuse)
    caplog.set_level(logging.INFO)
    with agentstore.open(StorePolicy("memory")) as store:
        exercise(store)
    assert not [r for r in caplog.records if r.name == "agentstore.ops"]
    assert [r for r in caplog.records if r.name == "agentstore"]  # INFO still there
