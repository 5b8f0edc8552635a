"""An asyncio service: four agents take turns in one conversation, through agentstore.aio.

Four agent tasks speak in turn in one stream (each appends to its own chained log); a
shared rate limiter guards their tool calls (two per agent per minute here: the third is
refused); each agent's session is saved after every turn; and a consumer task follows
``store.doorbell.events()``, fetching the entry each event announces, the way a service
forwards commits to its message bus. At the end every chain is verified. Nothing blocks the
event loop: SQLite's calls run on the store's own threads.

Run it:  python examples/async_agents.py [FOLDER]   (default: a temporary folder)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import agentstore
import agentstore.aio
from agentstore import AgentId, SessionId, SessionRecord
from agentstore.aio import AsyncStore, EventsMissed

STREAM = "conv:release"
AGENTS = ("planner", "researcher", "coder", "reviewer")
ROUNDS = 3
TOOL_CALLS_PER_MINUTE = 2


async def agent(
    store: AsyncStore, index: int, turn: asyncio.Condition, state: dict[str, int]
) -> None:
    name = AGENTS[index]
    agent_id, session = AgentId.new(), SessionId.new()
    await store.lifecycle.register(agent_id)
    log = store.log(STREAM, writer=name)
    for round_no in range(1, ROUNDS + 1):
        async with turn:  # wait for this agent's turn
            await turn.wait_for(lambda: state["turn"] % len(AGENTS) == index)
        used = await store.rate_limits.increment(f"tool:{name}", 1, window_secs=60.0)
        if used <= TOOL_CALLS_PER_MINUTE:
            said = f"round {round_no}: called the search tool ({used}/{TOOL_CALLS_PER_MINUTE})"
        else:
            said = f"round {round_no}: tool call refused by the rate limiter"
        entry = await log.append(said.encode())
        await store.sessions.save(
            SessionRecord(session, agent_id, {"agent": name, "turns": round_no, "seq": entry.seq})
        )
        await store.lifecycle.heartbeat(agent_id)
        async with turn:  # hand the turn to the next agent
            state["turn"] += 1
            turn.notify_all()
    saved = await store.sessions.load(session)
    print(f"session saved: {name} after {saved.data['turns']} turns")


async def consumer(store: AsyncStore, expected: int, ready: asyncio.Event) -> None:
    events = store.doorbell.events()
    ready.set()
    seen = 0
    try:
        async for event in events:
            log = store.log(event.stream, writer=event.writer)
            entry = await anext(log.entries(after=event.seq - 1))
            print(f"event: {event.writer} #{event.seq}  {entry.payload.decode()}")
            seen += 1
            if seen == expected:
                break
    except EventsMissed as exc:  # fell behind: a real service would re-read the logs
        print(f"consumer missed {exc.missed} events")
    finally:
        await events.aclose()


async def main(folder: Path) -> None:
    policy = agentstore.StorePolicy(
        "sqlite", sections={"sqlite": {"path": str(folder / "agents.db")}}
    )
    async with agentstore.aio.open(policy) as store:
        ready = asyncio.Event()
        following = asyncio.create_task(consumer(store, len(AGENTS) * ROUNDS, ready))
        await ready.wait()
        turn, state = asyncio.Condition(), {"turn": 0}
        await asyncio.gather(*(agent(store, i, turn, state) for i in range(len(AGENTS))))
        await following
        for name in AGENTS:
            count = await store.log(STREAM, writer=name).verify()
            print(f"verified: {STREAM} {name}, {count} entries, chain intact")
        print(f"live agents: {len(await store.lifecycle.live(ttl_secs=60))}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(main(Path(sys.argv[1])))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(main(Path(tmp)))
