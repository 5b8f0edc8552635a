"""The redis example driver's logging: open and close at INFO on ``agentstore.redis``, every
operation at DEBUG, never the url's password, a payload or a secret's value."""

from __future__ import annotations

import logging

import agentstore
import pytest
from agentstore import StorePolicy
from logged import assert_nothing_secret, assert_ops_logged, exercise

PASSWORD = "Redis-Log-pw-0xABAD1DEA"


def test_redis_logs_its_lifecycle_and_every_operation_never_a_secret(
    redis_server: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A password the server ignores (it has none) still travels in the url.
    url = redis_server.replace("redis://", f"redis://:{PASSWORD}@")
    monkeypatch.setenv("APP_REDIS_URL", url)
    section = {"url": {"env": "APP_REDIS_URL"}, "prefix": redis_prefix}
    caplog.set_level(logging.DEBUG)
    try:
        store = agentstore.open(StorePolicy("redis", sections={"redis": section}))
    except agentstore.BackendUnavailable:
        # This server refuses AUTH with a password it does not have: use the plain url,
        # and check the password-carrying one only for what its failure logged.
        monkeypatch.setenv("APP_REDIS_URL", redis_server)
        store = agentstore.open(StorePolicy("redis", sections={"redis": section}))
    with store:
        exercise(store)
    records = caplog.records
    assert_ops_logged(records)
    assert_nothing_secret(records, PASSWORD)
    lines = [r.getMessage() for r in records if r.name == "agentstore.redis"]
    assert f"opened redis at 127.0.0.1:6379 under prefix {redis_prefix!r}" in lines
    assert f"closed redis at 127.0.0.1:6379 under prefix {redis_prefix!r}" in lines
