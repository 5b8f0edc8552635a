"""Domain-type errors read as English: ``not an AgentId``, ``must be a SessionId``."""

from __future__ import annotations

import uuid

import pytest
from agentstore import AgentId, AuditEntry, InvalidInput, SessionId, SessionRecord


def test_parse_errors_use_the_right_article() -> None:
    with pytest.raises(InvalidInput, match=r"^not an AgentId: 'nope'$"):
        AgentId.parse("nope")
    with pytest.raises(InvalidInput, match=r"^not a SessionId: 'nope'$"):
        SessionId.parse("nope")
    with pytest.raises(InvalidInput, match=r"^an AgentId is 16 bytes$"):
        AgentId.from_bytes(b"x")


def test_type_errors_use_the_right_article() -> None:
    with pytest.raises(InvalidInput, match=r"AuditEntry\.agent_id must be an AgentId, not str"):
        AuditEntry("act", agent_id="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"session_id must be a SessionId, not UUID"):
        SessionRecord(uuid.uuid4(), AgentId.new(), {})  # type: ignore[arg-type]
