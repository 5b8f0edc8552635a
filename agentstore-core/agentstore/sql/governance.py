"""The governance stores over a :class:`~agentstore.sql.backend.Backend` (the rate-limit
counter in :mod:`agentstore.sql.ratelimits`), and :func:`open_sql_stores`, which builds
every capability a SQL driver serves. Policies, sessions and agents serve tenant
namespaces (``_scoped``) in their own tables, as :mod:`agentstore.sql.scopes` tells.

Statements are portable between SQLite and PostgreSQL, as in :mod:`agentstore.sql.logs`;
atomicity comes from single statements and primary keys, so it holds across processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, cast

from agentstore.audit import LogAuditSink
from agentstore.capabilities import (
    Clock,
    CredentialStore,
    LifecycleStore,
    PolicyStore,
    SessionStore,
)
from agentstore.errors import InvalidInput, SchemaVersionError
from agentstore.spec import DriverStores, OpenContext
from agentstore.sql.backend import Backend, Row, Value
from agentstore.sql.logs import SqlGenerationStore, SqlLogStore
from agentstore.sql.ratelimits import SLIDING_PREFIX, SqlRateLimitCounter
from agentstore.sql.schema import SESSIONS_EXPIRE_FROM, ensure_schema, require_schema
from agentstore.sql.scopes import ROOT, KeySpace, outside_tenants
from agentstore.types import (
    AgentId,
    AgentInfo,
    JSONValue,
    PolicyDocument,
    SessionId,
    SessionRecord,
)

# -- governance stores ---------------------------------------------------------------------


PAGE: Final = 500
"""Rows a listing reads per query: its memory stays bounded by it."""


def keyset_pages(
    backend: Backend,
    sql: str,
    params: Sequence[Value] = (),
    *,
    first: str = "",
    page: int = PAGE,
) -> Iterator[Row]:
    """Every row of ``sql`` past the key ``first`` ("" sorts before every key: keys are
    never empty), read ``page`` rows per query by keyset: ``sql`` binds the key to read
    past, then ``params``, then the page size, and yields rows ordered by that key, its
    first column. No cursor stays open between pages."""
    after: Value = first
    while True:
        rows = backend.query(sql, (after, *params, page))
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1][0]


class SqlPolicyStore(PolicyStore):
    """Policies in ``agentstore_policies``, keyed by agent id; a tenant's (see
    :meth:`_scoped`) by its stored key (:mod:`agentstore.sql.scopes`)."""

    _PUT = (
        "INSERT INTO agentstore_policies (agent_id, document) VALUES (?, ?) "
        "ON CONFLICT (agent_id) DO UPDATE SET document = excluded.document"
    )
    _GET = "SELECT document FROM agentstore_policies WHERE agent_id = ?"
    _DELETE = "DELETE FROM agentstore_policies WHERE agent_id = ?"
    # {scope}: the key space's condition (KeySpace.where); binds after, scope, page size.
    _LIST_IN = (
        "SELECT agent_id FROM agentstore_policies WHERE agent_id > ? AND {scope} "
        "ORDER BY agent_id LIMIT ?"
    )
    _LIST = _LIST_IN.format(scope=outside_tenants("agent_id"))

    def __init__(self, backend: Backend, *, space: KeySpace = ROOT) -> None:
        self._backend = backend
        self._space = space
        self._list = self._LIST_IN.format(scope=space.where("agent_id"))  # root: _LIST

    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        key = self._space.key(agent_id)
        self._backend.exec(self._PUT, (key, document.to_json().decode("utf-8")))

    def _get(self, agent_id: AgentId) -> PolicyDocument | None:
        rows = self._backend.query(self._GET, (self._space.key(agent_id),))
        return PolicyDocument.from_json(cast(str, rows[0][0])) if rows else None

    def _invalidate(self, agent_id: AgentId) -> None:
        self._backend.exec(self._DELETE, (self._space.key(agent_id),))

    def _list_policies(self, after: AgentId | None) -> Iterator[AgentId]:
        space = self._space
        rows = keyset_pages(self._backend, self._list, space.params(), first=space.first(after))
        return (AgentId.parse(space.out(cast(str, r[0]))) for r in rows)

    def _scoped(self, tenant: str) -> SqlPolicyStore:
        """Tenant ``tenant``'s policies: rows keyed ``agentstore:t:<tenant>:<agent id>``
        in the same table, on the same backend (connections)."""
        return SqlPolicyStore(self._backend, space=_tenant_space(self, tenant))


class SqlSessionStore(SessionStore):
    """Sessions in ``agentstore_sessions``, each with its expiry (``expires_at``, NULL:
    never) from schema version 4 on. A tenant's rows (see :meth:`_scoped`) hold its stored
    keys in both ``session_id`` and ``agent_id``, so no part of them reads as a root row.

    Opened without creating on a version 3 database, it reads and writes as version 3
    did: nothing expires, and a save with a TTL raises SchemaVersionError.
    """

    _SAVE = (
        "INSERT INTO agentstore_sessions (session_id, agent_id, data, expires_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
        "agent_id = excluded.agent_id, data = excluded.data, expires_at = excluded.expires_at"
    )
    _LOAD = (
        "SELECT agent_id, data FROM agentstore_sessions WHERE session_id = ? "
        "AND (expires_at IS NULL OR expires_at > ?)"
    )
    _DELETE = "DELETE FROM agentstore_sessions WHERE session_id = ?"
    # {scope}: the key space's condition (KeySpace.where), bound after the other values
    # (before the page size).
    _LIST_IN = (
        "SELECT session_id FROM agentstore_sessions WHERE session_id > ? "
        "AND (expires_at IS NULL OR expires_at > ?) AND {scope} ORDER BY session_id LIMIT ?"
    )
    _PURGE_IN = "DELETE FROM agentstore_sessions WHERE expires_at <= ? AND {scope}"
    _LIST = _LIST_IN.format(scope=outside_tenants("session_id"))
    _PURGE = _PURGE_IN.format(scope=outside_tenants("session_id"))
    # Schema version 3, read without upgrading: no expires_at column.
    _SAVE_V3 = (
        "INSERT INTO agentstore_sessions (session_id, agent_id, data) VALUES (?, ?, ?) "
        "ON CONFLICT (session_id) DO UPDATE SET agent_id = excluded.agent_id, "
        "data = excluded.data"
    )
    _LOAD_V3 = "SELECT agent_id, data FROM agentstore_sessions WHERE session_id = ?"
    _LIST_V3_IN = (
        "SELECT session_id FROM agentstore_sessions WHERE session_id > ? AND {scope} "
        "ORDER BY session_id LIMIT ?"
    )
    _LIST_V3 = _LIST_V3_IN.format(scope=outside_tenants("session_id"))

    def __init__(
        self,
        backend: Backend,
        clock: Clock = time.time,
        *,
        expiring: bool = True,
        space: KeySpace = ROOT,
    ) -> None:
        super().__init__(clock)
        self._backend = backend
        self.expiring = expiring  # whether the schema keeps an expiry (version 4 on)
        self._space = space
        scope = space.where("session_id")  # the root's: the class's own statements
        self._list = self._LIST_IN.format(scope=scope)
        self._list_v3 = self._LIST_V3_IN.format(scope=scope)
        self._purge = self._PURGE_IN.format(scope=scope)

    def _row(self, record: SessionRecord) -> tuple[str, str, str]:
        """``(session_id, agent_id, data)`` as stored in this store's key space."""
        key = self._space.key
        data = record.data_json().decode("utf-8")
        return key(record.session_id), key(record.agent_id), data

    def _save(self, record: SessionRecord) -> None:
        if self.expiring:
            self._backend.exec(self._SAVE, (*self._row(record), None))
        else:
            self._backend.exec(self._SAVE_V3, self._row(record))

    def _save_expiring(self, record: SessionRecord, expires_at: float) -> None:
        self._require_expiry()
        self._backend.exec(self._SAVE, (*self._row(record), expires_at))

    def _load(self, session_id: SessionId) -> SessionRecord | None:
        return self._load_at(session_id, self.clock())

    def _load_at(self, session_id: SessionId, now: float) -> SessionRecord | None:
        key = self._space.key(session_id)
        if self.expiring:
            rows = self._backend.query(self._LOAD, (key, now))
        else:
            rows = self._backend.query(self._LOAD_V3, (key,))
        if not rows:
            return None
        agent, data = rows[0]
        agent_id = AgentId.parse(self._space.out(cast(str, agent)))
        return SessionRecord(session_id, agent_id, _json_object(cast(str, data)))

    def _delete(self, session_id: SessionId) -> None:
        self._backend.exec(self._DELETE, (self._space.key(session_id),))

    def _list_sessions(self, after: SessionId | None, now: float) -> Iterator[SessionId]:
        space = self._space
        first = space.first(after)
        if self.expiring:
            rows = keyset_pages(self._backend, self._list, (now, *space.params()), first=first)
        else:
            rows = keyset_pages(self._backend, self._list_v3, space.params(), first=first)
        return (SessionId.parse(space.out(cast(str, r[0]))) for r in rows)

    def _purge_expired(self, now: float) -> int:
        if not self.expiring:
            return 0
        return self._backend.exec(self._purge, (now, *self._space.params()))

    def _scoped(self, tenant: str) -> SqlSessionStore:
        """Tenant ``tenant``'s sessions: rows keyed ``agentstore:t:<tenant>:<session id>``
        in the same table, on the same backend (connections) and clock."""
        space = _tenant_space(self, tenant)
        return SqlSessionStore(self._backend, self.clock, expiring=self.expiring, space=space)

    def _require_expiry(self) -> None:
        if not self.expiring:
            raise SchemaVersionError(
                f"{self._backend.location}: sessions can expire from agentstore schema "
                f"version {SESSIONS_EXPIRE_FROM}; this store was opened without upgrading "
                "its older schema. Open it once with agentstore.open(policy) (create=True, "
                "the default) to upgrade it, then save with a TTL"
            )


def _tenant_space(
    store: SqlPolicyStore | SqlSessionStore | SqlLifecycleStore, tenant: str
) -> KeySpace:
    """Tenant ``tenant``'s key space for a scoped copy of ``store``, a root store.

    Raises:
        InvalidInput: ``store`` is itself a tenant's (a tenant's store has no tenants), or
            ``tenant`` is not a tenant name.
    """
    if not store._space.is_root:
        raise InvalidInput(
            f"the {type(store).__name__} of tenant {store._space.tenant!r} cannot open "
            f"tenant {tenant!r}: take tenant views from the store agentstore.open returned"
        )
    return KeySpace.of(store._backend, tenant)


def _json_object(text: str) -> dict[str, JSONValue]:
    loaded: dict[str, JSONValue] = json.loads(text)
    return loaded


class SqlCredentialStore(CredentialStore):
    """Secrets as opaque bytes in ``agentstore_credentials``; never shown in a repr."""

    _PUT = (
        "INSERT INTO agentstore_credentials (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    )
    _GET = "SELECT value FROM agentstore_credentials WHERE name = ?"
    _DELETE = "DELETE FROM agentstore_credentials WHERE name = ?"
    _SWAP = "UPDATE agentstore_credentials SET value = ? WHERE name = ? AND value = ?"
    _LIST = "SELECT name FROM agentstore_credentials WHERE name > ? ORDER BY name LIMIT ?"

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _put_secret(self, name: str, value: bytes) -> None:
        self._backend.exec(self._PUT, (name, value))

    def _get_secret(self, name: str) -> bytes | None:
        rows = self._backend.query(self._GET, (name,))
        return bytes(cast(bytes, rows[0][0])) if rows else None

    def _delete_secret(self, name: str) -> None:
        self._backend.exec(self._DELETE, (name,))

    def _swap_secret(self, name: str, expected: bytes, value: bytes) -> bool:
        return self._backend.exec(self._SWAP, (value, name, expected)) == 1

    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        rows = keyset_pages(self._backend, self._LIST, first=after or "")
        return (cast(str, r[0]) for r in rows)

    def __repr__(self) -> str:
        return f"<SqlCredentialStore at {self._backend.location}>"


class SqlLifecycleStore(LifecycleStore):
    """Agents in ``agentstore_agents``, keyed by agent id; a tenant's (see
    :meth:`_scoped`) by its stored key (:mod:`agentstore.sql.scopes`)."""

    _REGISTER = (
        "INSERT INTO agentstore_agents (agent_id, registered_at, last_heartbeat) "
        "VALUES (?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET "
        "registered_at = excluded.registered_at, last_heartbeat = excluded.last_heartbeat"
    )
    _HEARTBEAT = "UPDATE agentstore_agents SET last_heartbeat = ? WHERE agent_id = ?"
    _DELETE = "DELETE FROM agentstore_agents WHERE agent_id = ?"
    _INFO = "SELECT registered_at, last_heartbeat FROM agentstore_agents WHERE agent_id = ?"
    # {scope}: the key space's condition (KeySpace.where), bound after the other values
    # (before a listing's page size).
    _LIVE_IN = "SELECT agent_id FROM agentstore_agents WHERE last_heartbeat >= ? AND {scope}"
    _LIST_IN = (
        "SELECT agent_id, registered_at, last_heartbeat FROM agentstore_agents "
        "WHERE agent_id > ? AND {scope} ORDER BY agent_id LIMIT ?"
    )
    # One statement: a heartbeat committed before it reaches the row keeps the agent.
    _PRUNE_IN = "DELETE FROM agentstore_agents WHERE last_heartbeat < ? AND {scope}"
    _LIVE = _LIVE_IN.format(scope=outside_tenants("agent_id"))
    _LIST = _LIST_IN.format(scope=outside_tenants("agent_id"))
    _PRUNE = _PRUNE_IN.format(scope=outside_tenants("agent_id"))

    def __init__(self, backend: Backend, clock: Clock, *, space: KeySpace = ROOT) -> None:
        super().__init__(clock)
        self._backend = backend
        self._space = space
        scope = space.where("agent_id")  # the root's: the class's own statements
        self._live = self._LIVE_IN.format(scope=scope)
        self._list = self._LIST_IN.format(scope=scope)
        self._prune = self._PRUNE_IN.format(scope=scope)

    def _register(self, agent_id: AgentId, now: float) -> None:
        self._backend.exec(self._REGISTER, (self._space.key(agent_id), now, now))

    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        return self._backend.exec(self._HEARTBEAT, (now, self._space.key(agent_id))) > 0

    def _deregister(self, agent_id: AgentId) -> None:
        self._backend.exec(self._DELETE, (self._space.key(agent_id),))

    def _info(self, agent_id: AgentId) -> AgentInfo | None:
        rows = self._backend.query(self._INFO, (self._space.key(agent_id),))
        if not rows:
            return None
        registered, heartbeat = rows[0]
        return AgentInfo(agent_id, cast(float, registered), cast(float, heartbeat))

    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        space = self._space
        rows = self._backend.query(self._live, (cutoff, *space.params()))
        return [AgentId.parse(space.out(cast(str, row[0]))) for row in rows]

    def _list_agents(self, after: AgentId | None) -> Iterator[AgentInfo]:
        space = self._space
        rows = keyset_pages(self._backend, self._list, space.params(), first=space.first(after))
        return (
            AgentInfo(AgentId.parse(space.out(cast(str, a))), cast(float, r), cast(float, h))
            for a, r, h in rows
        )

    def _prune_before(self, cutoff: float) -> int:
        return self._backend.exec(self._prune, (cutoff, *self._space.params()))

    def _scoped(self, tenant: str) -> SqlLifecycleStore:
        """Tenant ``tenant``'s agents: rows keyed ``agentstore:t:<tenant>:<agent id>`` in
        the same table, on the same backend (connections) and clock."""
        return SqlLifecycleStore(self._backend, self.clock, space=_tenant_space(self, tenant))


# -- assembly ------------------------------------------------------------------------------


def open_sql_stores(
    backend: Backend,
    context: OpenContext,
    *,
    log_store: Callable[[Backend], SqlLogStore] = SqlLogStore,
) -> DriverStores:
    """Ensure the schema and build the stores ``context`` asks for, all on ``backend``.

    With ``context.create`` False no DDL runs: the schema must already be there and
    readable as it stands. The returned ``close`` closes ``backend``. ``log_store`` builds
    the log store from the backend, so a driver can substitute a subclass (a faster
    ``_verify``, say) without touching any other capability.

    Raises:
        SchemaVersionError: the database's schema is newer than this code (or, without
            create, older than it reads).
        StoreNotFound: without create, the database holds no agentstore tables.
    """
    version = ensure_schema(backend) if context.create else require_schema(backend)
    expiring = version >= SESSIONS_EXPIRE_FROM
    caps = context.capabilities
    logs = log_store(backend) if caps & {"logs", "audit"} else None
    return DriverStores(
        generations=SqlGenerationStore(backend) if "generations" in caps else None,
        logs=logs if "logs" in caps else None,
        policies=SqlPolicyStore(backend) if "policies" in caps else None,
        audit=LogAuditSink(logs) if logs is not None and "audit" in caps else None,
        sessions=(
            SqlSessionStore(backend, context.clock, expiring=expiring)
            if "sessions" in caps
            else None
        ),
        credentials=SqlCredentialStore(backend) if "credentials" in caps else None,
        rate_limits=SqlRateLimitCounter(backend, context.clock) if "rate_limits" in caps else None,
        lifecycle=SqlLifecycleStore(backend, context.clock) if "lifecycle" in caps else None,
        close=backend.close,
    )


__all__ = [
    "PAGE",
    "SLIDING_PREFIX",
    "SqlCredentialStore",
    "SqlLifecycleStore",
    "SqlPolicyStore",
    "SqlRateLimitCounter",
    "SqlSessionStore",
    "keyset_pages",
    "open_sql_stores",
]
