"""Every capability exercised once with values that must never be logged, and the checks
on what the logging captured: used by the logging tests of each driver."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import agentstore
import pytest
from agentstore import AgentId, AuditEntry, PolicyDocument, SessionId, SessionRecord

SECRET_VALUE = b"cred-value-7Q2xLmN0pQ"
PAYLOAD = b"payload-bytes-Zx81kWq"
DOC_BODY = "policy-body-J3nT5rV"
SESSION_DATA = "session-data-Hk4sP0"
AUDIT_DETAIL = "audit-detail-Ym6cB2"
NEVER_LOGGED: tuple[bytes, ...] = (
    SECRET_VALUE,
    PAYLOAD,
    *(s.encode() for s in (DOC_BODY, SESSION_DATA, AUDIT_DETAIL)),
)
"""Values no record may hold: a secret's value and every payload."""

OPS = (
    "Generation.bump",
    "Generation.current",
    "Generation.advance_to",
    "WriterLog.append",
    "WriterLog.append_many",
    "WriterLog.head",
    "WriterLog.entries",
    "WriterLog.verify",
    "PolicyStore.put",
    "PolicyStore.get",
    "PolicyStore.invalidate",
    "AuditSink.emit",
    "AuditSink.records",
    "AuditSink.verify",
    "SessionStore.save",
    "SessionStore.load",
    "SessionStore.delete",
    "CredentialStore.put_secret",
    "CredentialStore.get_secret",
    "CredentialStore.delete_secret",
    "RateLimitCounter.increment",
    "RateLimitCounter.current",
    "RateLimitCounter.reset",
    "LifecycleStore.register",
    "LifecycleStore.heartbeat",
    "LifecycleStore.info",
    "LifecycleStore.deregister",
)
"""The per-operation DEBUG lines :func:`exercise` causes (on ``agentstore.ops``)."""


def exercise(store: agentstore.Store) -> None:
    """Call every capability once (a failing call too) with the values above."""
    gen = store.generation("g")
    gen.bump()
    gen.current()
    gen.advance_to(5)
    with pytest.raises(agentstore.NonMonotonicGeneration):
        gen.advance_to(1)
    log = store.log("s", writer="w")
    log.append(PAYLOAD)
    log.append_many([PAYLOAD, PAYLOAD])
    log.head()
    assert [e.payload for e in log.entries()] == [PAYLOAD] * 3
    assert log.verify() == 3
    agent = AgentId(uuid.uuid4())
    store.policies.put(agent, PolicyDocument({"rule": DOC_BODY}))
    store.policies.get(agent)
    store.policies.invalidate(agent)
    store.audit.emit(AuditEntry("policy.update", agent, {"why": AUDIT_DETAIL}))
    list(store.audit.records())
    store.audit.verify()
    session = SessionId(uuid.uuid4())
    store.sessions.save(SessionRecord(session, agent, {"k": SESSION_DATA}))
    store.sessions.load(session)
    store.sessions.delete(session)
    store.credentials.put_secret("api-key", SECRET_VALUE)
    assert store.credentials.get_secret("api-key") == SECRET_VALUE
    store.credentials.delete_secret("api-key")
    with pytest.raises(agentstore.NotFound):
        store.credentials.get_secret("api-key")
    store.rate_limits.increment("ip:10.0.0.1", 1, 60.0)
    store.rate_limits.current("ip:10.0.0.1")
    store.rate_limits.reset("ip:10.0.0.1")
    store.lifecycle.register(agent)
    store.lifecycle.heartbeat(agent)
    store.lifecycle.info(agent)
    store.lifecycle.deregister(agent)


def texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """What a handler could write of each record: the message, its args, any exception."""
    found: list[str] = []
    for r in records:
        found += [r.getMessage(), repr(r.args), str(r.msg)]
        if r.exc_info and r.exc_info[1] is not None:
            found += [repr(r.exc_info[1]), str(r.exc_info[1])]
    return found


def assert_nothing_secret(records: list[logging.LogRecord], *secrets: str | bytes) -> None:
    """No record holds a payload, a secret's value, or any of ``secrets`` (str or bytes,
    as text, repr and decoded)."""
    banned: list[str] = []
    for s in (*NEVER_LOGGED, *secrets):
        raw = s if isinstance(s, bytes) else s.encode()
        banned += [raw.decode(), repr(raw)[2:-1]]
    for text in texts(records):
        for b in banned:
            assert b not in text, f"a log record shows {b!r}: {text!r}"


def assert_ops_logged(records: list[logging.LogRecord]) -> None:
    """Every operation left its DEBUG line on agentstore.ops, the failing one included."""
    lines = [r.getMessage() for r in records if r.name == "agentstore.ops"]
    assert all(r.levelno == logging.DEBUG for r in records if r.name == "agentstore.ops")
    for op in OPS:
        assert any(line.startswith(f"{op} ") or line == op for line in lines), (op, lines)
    assert "CredentialStore.get_secret 'api-key'" in lines
    assert "Generation.advance_to 'g': failed (NonMonotonicGeneration)" in lines
    assert any(line.startswith("WriterLog.append 's' 'w': seq 1") for line in lines)


__all__ = [
    "NEVER_LOGGED",
    "OPS",
    "assert_nothing_secret",
    "assert_ops_logged",
    "exercise",
    "texts",
]
