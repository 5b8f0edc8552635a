"""Governance stores, each capability on the driver the policy picks for it.

The policy keeps everything in a SQLite file except the rate-limit counters, which stay
in process memory (``[store.capabilities]``). The script then uses each governance store:
an agent's policy, the hash-chained audit trail, a session record, a credential (whose
value is never printed), a rate limit and agent liveness, with an injected clock so
expiry is shown without waiting.

Run it:  python examples/governance_stores.py [FOLDER]   (default: a temporary folder)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import agentstore
from agentstore import AgentId, AuditEntry, NotFound, PolicyDocument, SessionId, SessionRecord

POLICY = """\
[store]
backend = "sqlite"

[store.sqlite]
path = "governance.db"          # relative to this file's folder

[store.capabilities]
rate_limits = "memory"          # hot counters stay in process
"""


class Clock:
    """A clock the example moves by hand (agentstore never orders by it)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def main(folder: Path) -> None:
    policy_file = folder / "agentstore.toml"
    policy_file.write_text(POLICY, encoding="utf-8")
    clock = Clock()
    with agentstore.open(policy_file, clock=clock) as store:
        for capability, driver in store.routes.items():
            print(f"route: {capability} -> {driver}")

        planner, critic = AgentId.new(), AgentId.new()
        store.policies.put(planner, PolicyDocument({"tools": ["search", "calc"], "budget": 5}))
        print(f"policy: planner may use {store.policies.get(planner).body['tools']}")
        store.policies.invalidate(planner)
        try:
            store.policies.get(planner)
        except NotFound:
            print("policy: invalidated, the next read must fetch a fresh one")

        store.audit.emit(AuditEntry("policy.update", agent_id=planner, detail={"budget": 5}))
        store.audit.emit(AuditEntry("policy.invalidate", agent_id=planner))
        actions = [r.entry.action for r in store.audit.records()]
        print(f"audit: {actions}; chain of {store.audit.verify()} entries intact")

        session = SessionRecord(SessionId.new(), planner, {"step": 3, "goal": "weekly report"})
        store.sessions.save(session)
        print(f"session: resumed at step {store.sessions.load(session.session_id).data['step']}")

        store.credentials.put_secret("search-api-key", b"sk-live-0123456789")
        secret = store.credentials.get_secret("search-api-key")
        print(f"credential: search-api-key holds {len(secret)} bytes (never printed)")

        counts = [store.rate_limits.increment("planner:search", window_secs=60) for _ in range(3)]
        print(f"rate limit: calls in this minute {counts}")
        clock.now += 61
        print(f"rate limit: a minute later {store.rate_limits.current('planner:search')}")

        store.lifecycle.register(planner)
        store.lifecycle.register(critic)
        clock.now += 20
        store.lifecycle.heartbeat(planner)
        clock.now += 20
        names = {planner: "planner", critic: "critic"}
        live = [names[agent] for agent in store.lifecycle.live(ttl_secs=30)]
        print(f"lifecycle: live within 30 s: {live}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
