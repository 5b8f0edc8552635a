"""The postgres driver's governance stores, native to ``agentstore.aio``.

Each call is one awaited statement on the async store's ``AsyncConnectionPool``: no thread
per call. The statements are the synchronous driver's own (the core's SQL substrate,
:mod:`agentstore.sql.stores`), and the arguments are checked, and the results and errors
formed, as the synchronous stores' public methods do. The audit sink is the store's log
on the reserved stream ``agentstore:audit``, appended natively; verifying its chain runs
on the async store's threads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agentstore.aio._threads import Offload
from agentstore.aio.governance import PAGE
from agentstore.capabilities import (
    AUDIT_STREAM,
    AUDIT_WRITER,
    MAX_SECRET_BYTES,
    AuditSink,
    Clock,
    CredentialStore,
    RateLimitCounter,
    check_int,
    check_name,
    check_payload,
    check_seconds,
    driver_call,
)
from agentstore.checks import check_agent as _check_agent
from agentstore.errors import InvalidInput, NotFound
from agentstore.governance import check_after, check_name_after
from agentstore.ratelimit import (
    FixedCount,
    RateLimitResult,
    SlidingCount,
    SlidingWindow,
    Strategy,
    check_hit,
    fixed_result,
    sliding_result,
)
from agentstore.sql.governance import PAGE as SQL_PAGE
from agentstore.sql.governance import (
    SqlCredentialStore,
    SqlLifecycleStore,
    SqlPolicyStore,
    SqlRateLimitCounter,
    SqlSessionStore,
    _json_object,
)
from agentstore.types import (
    AgentId,
    AgentInfo,
    AuditEntry,
    AuditRecord,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

from agentstore_postgres.aio import AsyncPg, PgAsyncLogStore

# The audit chain's records: the columns an AuditRecord holds, a page at a time.
_AUDIT_PAGE = (
    "SELECT seq, payload, prev_hash, content_hash FROM agentstore_log "
    "WHERE stream = ? AND writer = ? AND seq > ? ORDER BY seq LIMIT ?"
)


class _Native:
    """One statement per call on the pool, as the async store's own call."""

    def __init__(self, pg: AsyncPg, offload: Offload) -> None:
        self._pg, self._offload = pg, offload

    async def _query(self, sql: str, params: tuple[Any, ...], op: str) -> list[tuple[Any, ...]]:
        return await self._offload.native(self._pg.query(sql, params, op))

    async def _exec(self, sql: str, params: tuple[Any, ...], op: str) -> int:
        return await self._offload.native(self._pg.exec(sql, params, op))

    async def _pages(
        self, sql: str, params: tuple[Any, ...], first: str, op: str
    ) -> AsyncIterator[tuple[Any, ...]]:
        """The rows of a keyset listing (as :func:`agentstore.sql.governance.keyset_pages`
        reads it), one awaited query per page of :data:`~agentstore.sql.governance.PAGE`."""
        after = first
        while True:
            rows = await self._query(sql, (after, *params, SQL_PAGE), op)
            for row in rows:
                yield row
            if len(rows) < SQL_PAGE:
                return
            after = rows[-1][0]


class PgAsyncPolicyStore(_Native):
    """Policies in ``agentstore_policies``, awaited on the pool."""

    async def put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        """Store ``document`` as the agent's policy, replacing any previous one."""
        if not isinstance(document, PolicyDocument):
            raise InvalidInput(f"expected a PolicyDocument, not {type(document).__name__}")
        agent = str(_check_agent(agent_id))
        text = document.to_json().decode("utf-8")
        await self._exec(SqlPolicyStore._PUT, (agent, text), "PolicyStore.put")

    async def get(self, agent_id: AgentId) -> PolicyDocument:
        """The agent's policy. Raises NotFound if none is stored."""
        agent = str(_check_agent(agent_id))
        rows = await self._query(SqlPolicyStore._GET, (agent,), "PolicyStore.get")
        if not rows:
            raise NotFound(f"no policy stored for agent {agent_id}")
        with driver_call("PolicyStore.get"):
            return PolicyDocument.from_json(rows[0][0])

    async def invalidate(self, agent_id: AgentId) -> None:
        """Forget the agent's policy. Idempotent."""
        agent = str(_check_agent(agent_id))
        await self._exec(SqlPolicyStore._DELETE, (agent,), "PolicyStore.invalidate")

    def agent_ids(self, after: AgentId | None = None) -> AsyncIterator[AgentId]:
        """Every agent with a stored policy, sorted by id, a page per awaited query."""
        first = check_after(after, AgentId, "after")
        return self._agent_ids("" if first is None else str(first))

    async def _agent_ids(self, first: str) -> AsyncIterator[AgentId]:
        async for row in self._pages(SqlPolicyStore._LIST, (), first, "PolicyStore.agent_ids"):
            with driver_call("PolicyStore.agent_ids"):
                agent = AgentId.parse(row[0])
            yield agent


class PgAsyncAuditSink:
    """The audit trail: the store's log on ``agentstore:audit``, appended natively."""

    def __init__(self, logs: PgAsyncLogStore, sync: AuditSink, offload: Offload) -> None:
        self._logs, self._sync, self._offload = logs, sync, offload

    async def emit(self, entry: AuditEntry) -> AuditRecord:
        """Append ``entry`` durably and return it with its place in the chain."""
        if not isinstance(entry, AuditEntry):
            raise InvalidInput(f"expected an AuditEntry, not {type(entry).__name__}")
        return await self._offload.native(self._emit(entry), shield=True)

    async def _emit(self, entry: AuditEntry) -> AuditRecord:
        """:meth:`emit` within a native call already running (a redaction's record)."""
        commit = self._logs._commit(AUDIT_STREAM, AUDIT_WRITER, [entry.to_json()], ring=False)
        e = (await commit)[0]
        return AuditRecord(e.seq, entry, e.prev_hash, e.content_hash)

    def records(self, after: int = 0) -> AsyncIterator[AuditRecord]:
        """Stored records with ``seq > after``, in order, fetched a page at a time."""
        return self._records(check_int(after, "after", 0))

    async def _records(self, after: int) -> AsyncIterator[AuditRecord]:
        pg = self._logs._pg
        while True:
            params = (AUDIT_STREAM, AUDIT_WRITER, after, PAGE)
            rows = await self._offload.native(pg.query(_AUDIT_PAGE, params, "AuditSink.records"))
            with driver_call("AuditSink.records"):
                page = [
                    AuditRecord(seq, AuditEntry.from_json(payload), prev, digest)
                    for seq, payload, prev, digest in rows
                ]
            for record in page:
                yield record
            if len(page) < PAGE:
                return
            after = page[-1].seq

    async def verify(self) -> int:
        """Check the audit chain off the loop; return its length (ChainBroken if not)."""
        return await self._offload.run(self._sync.verify)


class PgAsyncSessionStore(_Native):
    """Sessions in ``agentstore_sessions``, awaited on the pool; expiry on the store's clock."""

    def __init__(self, pg: AsyncPg, offload: Offload, sync: SqlSessionStore) -> None:
        super().__init__(pg, offload)
        self._sync = sync

    @property
    def clock(self) -> Clock:
        return self._sync.clock

    async def save(self, record: SessionRecord, ttl_secs: float | None = None) -> None:
        """Store ``record`` under its session id, overwriting any previous record; with
        ``ttl_secs``, it expires that long from now."""
        if not isinstance(record, SessionRecord):
            raise InvalidInput(f"expected a SessionRecord, not {type(record).__name__}")
        expires_at = None
        if ttl_secs is not None:
            expires_at = self.clock() + check_seconds(ttl_secs, "ttl_secs")
            self._sync._require_expiry()
        with driver_call("SessionStore.save"):
            data = record.data_json().decode("utf-8")
        params: tuple[Any, ...] = (str(record.session_id), str(record.agent_id), data)
        if self._sync.expiring:
            await self._exec(SqlSessionStore._SAVE, (*params, expires_at), "SessionStore.save")
        else:
            await self._exec(SqlSessionStore._SAVE_V3, params, "SessionStore.save")

    async def load(self, session_id: SessionId) -> SessionRecord:
        """The stored record. Raises NotFound if there is none, or it has expired."""
        if not isinstance(session_id, SessionId):
            raise InvalidInput(f"expected a SessionId, not {type(session_id).__name__}")
        params: tuple[Any, ...]
        if self._sync.expiring:
            sql, params = SqlSessionStore._LOAD, (str(session_id), self.clock())
        else:
            sql, params = SqlSessionStore._LOAD_V3, (str(session_id),)
        rows = await self._query(sql, params, "SessionStore.load")
        if not rows:
            raise NotFound(f"no session {session_id}")
        agent, data = rows[0]
        with driver_call("SessionStore.load"):
            return SessionRecord(session_id, AgentId.parse(agent), _json_object(data))

    async def delete(self, session_id: SessionId) -> None:
        """Remove the record. Idempotent."""
        if not isinstance(session_id, SessionId):
            raise InvalidInput(f"expected a SessionId, not {type(session_id).__name__}")
        await self._exec(SqlSessionStore._DELETE, (str(session_id),), "SessionStore.delete")

    def ids(self, after: SessionId | None = None) -> AsyncIterator[SessionId]:
        """Every unexpired session's id, sorted, a page per awaited query."""
        first = check_after(after, SessionId, "after")
        return self._ids("" if first is None else str(first), self.clock())

    async def _ids(self, first: str, now: float) -> AsyncIterator[SessionId]:
        params: tuple[Any, ...]
        if self._sync.expiring:
            sql, params = SqlSessionStore._LIST, (now,)
        else:
            sql, params = SqlSessionStore._LIST_V3, ()
        async for row in self._pages(sql, params, first, "SessionStore.ids"):
            with driver_call("SessionStore.ids"):
                sid = SessionId.parse(row[0])
            yield sid

    async def purge_expired(self) -> int:
        """Remove every expired record from storage; return how many were removed."""
        if not self._sync.expiring:
            return 0
        params = (self.clock(),)
        return await self._exec(SqlSessionStore._PURGE, params, "SessionStore.purge_expired")


class PgAsyncCredentialStore(_Native):
    """Secrets in ``agentstore_credentials``, awaited; values never shown in a repr."""

    def __init__(self, pg: AsyncPg, offload: Offload, sync: CredentialStore) -> None:
        super().__init__(pg, offload)
        self._sync = sync

    async def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, overwriting any previous value."""
        key = check_name(name, "secret name")
        if not isinstance(value, bytes | bytearray | memoryview):
            # Name the type only: the value itself may be the secret.
            raise InvalidInput(f"a secret value must be bytes, not {type(value).__name__}")
        checked = check_payload(value, f"secret {key!r}", MAX_SECRET_BYTES)
        await self._exec(SqlCredentialStore._PUT, (key, checked), "CredentialStore.put_secret")

    async def get_secret(self, name: str) -> bytes:
        """The stored value. Raises NotFound (naming only ``name``) if absent."""
        key = check_name(name, "secret name")
        rows = await self._query(SqlCredentialStore._GET, (key,), "CredentialStore.get_secret")
        if not rows:
            raise NotFound(f"no secret named {key!r}")
        return bytes(rows[0][0])

    async def delete_secret(self, name: str) -> None:
        """Remove the secret. Idempotent."""
        key = check_name(name, "secret name")
        await self._exec(SqlCredentialStore._DELETE, (key,), "CredentialStore.delete_secret")

    def names(self, after: str | None = None) -> AsyncIterator[str]:
        """Every secret's name, never a value, sorted, a page per awaited query."""
        return self._names(check_name_after(after) or "")

    async def _names(self, first: str) -> AsyncIterator[str]:
        sql = SqlCredentialStore._LIST
        async for row in self._pages(sql, (), first, "CredentialStore.names"):
            yield str(row[0])

    def __repr__(self) -> str:
        return f"<async {self._sync!r}>"


class PgAsyncRateLimitCounter(_Native):
    """Fixed windows in ``agentstore_rate_limits``; an increment is one awaited upsert."""

    def __init__(self, pg: AsyncPg, offload: Offload, sync: RateLimitCounter) -> None:
        super().__init__(pg, offload)
        self._sync = sync

    @property
    def clock(self) -> Clock:
        return self._sync.clock

    async def increment(self, key: str, amount: int = 1, window_secs: float = 60.0) -> int:
        """Add ``amount`` (>= 1) to ``key`` and return the total in the current window.

        Raises:
            InvalidInput: a bad argument, or a total that would pass ``MAX_INT``; the
                stored count is unchanged.
        """
        name = check_name(key, "rate-limit key")
        count = check_int(amount, "amount", 1)
        window = check_seconds(window_secs, "window_secs")
        now = self.clock()
        params = (name, now + window, count, now, now, now)
        rows = await self._query(
            SqlRateLimitCounter._INCREMENT, params, "RateLimitCounter.increment"
        )
        if not rows:
            self._sync._refuse_total(name, count)
        return int(rows[0][0])

    async def current(self, key: str) -> int:
        """The total in the key's current window; 0 if it expired or never started."""
        name = check_name(key, "rate-limit key")
        now = self.clock()
        rows = await self._query(SqlRateLimitCounter._GET, (name,), "RateLimitCounter.current")
        if not rows or now >= rows[0][1]:
            return 0
        return int(rows[0][0])

    async def reset(self, key: str) -> None:
        """Forget the key's window and count (of both ``hit`` strategies). Idempotent."""
        name = check_name(key, "rate-limit key")
        params = SqlRateLimitCounter.delete_params(name)
        await self._exec(SqlRateLimitCounter._DELETE, params, "RateLimitCounter.reset")

    async def hit(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult:
        """Spend ``cost`` of ``key``'s ``limit`` per ``window_secs`` if it fits: one awaited
        upsert (see :meth:`agentstore.RateLimitCounter.hit`)."""
        name, most, window, spend, how = check_hit(key, limit, window_secs, cost, strategy)
        now = self.clock()
        op = "RateLimitCounter.hit"
        if how == "fixed":
            params = SqlRateLimitCounter.hit_fixed_params(name, most, spend, window, now)
            rows = await self._query(SqlRateLimitCounter._HIT_FIXED, params, op)
            if rows:
                found = FixedCount(True, int(rows[0][0]), float(rows[0][1]))
            else:
                found = FixedCount(False, *await self._fixed_window(name, now, op))
            return fixed_result(most, spend, found, now)
        frame = SlidingWindow.at(now, window)
        params = SqlRateLimitCounter.hit_sliding_params(name, most, spend, frame)
        rows = await self._query(SqlRateLimitCounter._HIT_SLIDING, params, op)
        if rows:
            counted = SlidingCount(True, int(rows[0][1]), int(rows[0][0]))
        else:
            counted = SlidingCount(False, *await self._sliding_window(name, frame, op))
        return sliding_result(most, spend, counted, frame)

    async def window_stats(
        self,
        key: str,
        limit: int,
        window_secs: float,
        *,
        cost: int = 1,
        strategy: Strategy = "fixed",
    ) -> RateLimitResult:
        """What :meth:`hit` would answer now, counting nothing."""
        name, most, window, spend, how = check_hit(key, limit, window_secs, cost, strategy)
        now = self.clock()
        op = "RateLimitCounter.window_stats"
        if how == "fixed":
            count, end = await self._fixed_window(name, now, op)
            count = 0 if end <= now else count
            return fixed_result(most, spend, FixedCount(count <= most - spend, count, end), now)
        frame = SlidingWindow.at(now, window)
        previous, current = await self._sliding_window(name, frame, op)
        fits = frame.allows(previous, current, spend, most)
        return sliding_result(most, spend, SlidingCount(fits, previous, current), frame)

    async def _fixed_window(self, name: str, now: float, op: str) -> tuple[int, float]:
        rows = await self._query(SqlRateLimitCounter._GET, (name,), op)
        return (int(rows[0][0]), float(rows[0][1])) if rows else (0, now)

    async def _sliding_window(self, name: str, frame: SlidingWindow, op: str) -> tuple[int, int]:
        names = SqlRateLimitCounter.sliding_keys(name, frame)
        rows = await self._query(SqlRateLimitCounter._GET_SLIDING, names, op)
        return SqlRateLimitCounter.sliding_counts(rows, names, frame)


class PgAsyncLifecycleStore(_Native):
    """Agents in ``agentstore_agents``, awaited on the pool; times from the store's clock."""

    def __init__(self, pg: AsyncPg, offload: Offload, clock: Clock) -> None:
        super().__init__(pg, offload)
        self._clock = clock

    @property
    def clock(self) -> Clock:
        return self._clock

    async def register(self, agent_id: AgentId) -> None:
        """Record the agent as registered and alive now."""
        agent = str(_check_agent(agent_id))
        now = self.clock()
        params = (agent, now, now)
        await self._exec(SqlLifecycleStore._REGISTER, params, "LifecycleStore.register")

    async def heartbeat(self, agent_id: AgentId) -> None:
        """Mark a registered agent alive now. Raises NotFound unless it is registered."""
        agent = str(_check_agent(agent_id))
        now = self.clock()
        params = (now, agent)
        if not await self._exec(SqlLifecycleStore._HEARTBEAT, params, "LifecycleStore.heartbeat"):
            raise NotFound(f"agent {agent_id} is not registered")

    async def deregister(self, agent_id: AgentId) -> None:
        """Forget the agent. Idempotent."""
        agent = str(_check_agent(agent_id))
        await self._exec(SqlLifecycleStore._DELETE, (agent,), "LifecycleStore.deregister")

    async def info(self, agent_id: AgentId) -> AgentInfo:
        """What is known of a registered agent. Raises NotFound unless it is registered."""
        agent = str(_check_agent(agent_id))
        rows = await self._query(SqlLifecycleStore._INFO, (agent,), "LifecycleStore.info")
        if not rows:
            raise NotFound(f"agent {agent_id} is not registered")
        registered, heartbeat = rows[0]
        return AgentInfo(agent_id, float(registered), float(heartbeat))

    async def live(self, ttl_secs: float) -> list[AgentId]:
        """Registered agents seen within ``ttl_secs``, sorted by id."""
        cutoff = self.clock() - check_seconds(ttl_secs, "ttl_secs")
        rows = await self._query(SqlLifecycleStore._LIVE, (cutoff,), "LifecycleStore.live")
        with driver_call("LifecycleStore.live"):
            return sorted(AgentId.parse(row[0]) for row in rows)

    def agents(self, after: AgentId | None = None) -> AsyncIterator[AgentInfo]:
        """Every registered agent, sorted by id, a page per awaited query."""
        first = check_after(after, AgentId, "after")
        return self._agents("" if first is None else str(first))

    async def _agents(self, first: str) -> AsyncIterator[AgentInfo]:
        async for row in self._pages(SqlLifecycleStore._LIST, (), first, "LifecycleStore.agents"):
            agent, registered, heartbeat = row
            with driver_call("LifecycleStore.agents"):
                info = AgentInfo(AgentId.parse(agent), float(registered), float(heartbeat))
            yield info

    async def prune(self, ttl_secs: float) -> int:
        """Deregister every agent not seen within ``ttl_secs``; return how many."""
        cutoff = self.clock() - check_seconds(ttl_secs, "ttl_secs")
        return await self._exec(SqlLifecycleStore._PRUNE, (cutoff,), "LifecycleStore.prune")


__all__ = [
    "PgAsyncAuditSink",
    "PgAsyncCredentialStore",
    "PgAsyncLifecycleStore",
    "PgAsyncPolicyStore",
    "PgAsyncRateLimitCounter",
    "PgAsyncSessionStore",
]
