"""The keyed governance stores: policies, sessions, credentials and agents' lifecycle.

Each is an abstract class whose public methods check their arguments and translate driver
errors, and whose ``_`` hooks a driver implements (see :mod:`agentstore.capabilities`, which
re-exports them with the other capabilities).

An operator manages what these stores hold: each lists its keys, streamed in sorted order
a page at a time (:meth:`SessionStore.ids`, :meth:`CredentialStore.names`,
:meth:`PolicyStore.agent_ids`, :meth:`LifecycleStore.agents`); a session may be saved with
a time to live; agents not seen for a while can be pruned. The hooks behind those came
after the first release: they are not abstract, and their defaults raise
:class:`~agentstore.errors.Unsupported`, so a driver written before them keeps working for
everything else.

A listing resumes after a key (``after=``) and reads page by page: memory stays bounded
whatever the store holds. Pages need not be one snapshot: a key added or removed while a
listing runs may or may not appear, but no key appears twice and the order holds.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from agentstore.checks import MAX_SECRET_BYTES, check_name, check_payload, check_seconds
from agentstore.checks import check_agent as _check_agent
from agentstore.errors import InvalidInput, NotFound, Unsupported
from agentstore.translate import DriverCall
from agentstore.types import AgentId, AgentInfo, PolicyDocument, SessionId, SessionRecord

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time``. Used for expiry and liveness, never ordering."""

K = TypeVar("K")


def unsupported(store: object, what: str) -> Unsupported:
    """The error a hook a driver does not implement raises, naming the driver's class."""
    kind = type(store)
    return Unsupported(
        f"driver {kind.__module__}.{kind.__qualname__} does not support {what}; "
        "upgrade the driver, or use one that does"
    )


def check_after(value: object, kind: type[K], what: str) -> K | None:
    """``value`` when it is None or a ``kind`` (the key a listing resumes after)."""
    if value is None or isinstance(value, kind):
        return value
    raise InvalidInput(f"{what} must be {kind.__name__} or None, not {type(value).__name__}")


def check_name_after(value: object) -> str | None:
    """``value`` when it is None or a valid secret name (the name a listing resumes after)."""
    return None if value is None else check_name(value, "after")


def _listing(op: str, start: Callable[[], Iterator[K]]) -> Iterator[K]:
    """The driver's listing, its errors translated, whether raised at once or while read."""
    call = DriverCall(op)
    with call:
        return call.stream(start())


class PolicyStore(ABC):
    """Each agent's effective :class:`~agentstore.types.PolicyDocument` (``policies``)."""

    def put(self, agent_id: AgentId, document: PolicyDocument) -> None:
        """Store ``document`` as the agent's policy, replacing any previous one."""
        if not isinstance(document, PolicyDocument):
            raise InvalidInput(f"expected a PolicyDocument, not {type(document).__name__}")
        agent = _check_agent(agent_id)
        with DriverCall("PolicyStore.put", agent):
            self._put(agent, document)

    def get(self, agent_id: AgentId) -> PolicyDocument:
        """The agent's policy. Raises NotFound if none is stored (or it was invalidated)."""
        agent = _check_agent(agent_id)
        with DriverCall("PolicyStore.get", agent):
            doc = self._get(agent)
        if doc is None:
            raise NotFound(f"no policy stored for agent {agent_id}")
        return doc

    def invalidate(self, agent_id: AgentId) -> None:
        """Forget the agent's policy. Idempotent: invalidating nothing is not an error."""
        agent = _check_agent(agent_id)
        with DriverCall("PolicyStore.invalidate", agent):
            self._invalidate(agent)

    def agent_ids(self, after: AgentId | None = None) -> Iterator[AgentId]:
        """Every agent with a stored policy, sorted by id (past ``after`` when given),
        streamed a page at a time.

        Raises:
            Unsupported: the driver was written before policies could be listed.
        """
        start = check_after(after, AgentId, "after")
        return _listing("PolicyStore.agent_ids", lambda: self._list_policies(start))

    @abstractmethod
    def _put(self, agent_id: AgentId, document: PolicyDocument) -> None: ...

    @abstractmethod
    def _get(self, agent_id: AgentId) -> PolicyDocument | None: ...

    @abstractmethod
    def _invalidate(self, agent_id: AgentId) -> None: ...

    def _list_policies(self, after: AgentId | None) -> Iterator[AgentId]:
        """Agents with a stored policy and an id above ``after`` (None: all), sorted,
        streamed (not materialised)."""
        raise unsupported(self, "listing policies (policies.agent_ids)")

    def _scoped(self, tenant: str) -> PolicyStore:
        """A store of the same driver and backing whose keys live in tenant ``tenant``'s
        namespace (``tenant`` already checked by :func:`agentstore.tenancy.check_tenant`):
        disjoint from this store's keys and every other tenant's, its listings
        reaching only that namespace. Calls for the same tenant
        reach the same data; the result shares this store's connections. ``store.tenant``
        serves policies through it."""
        raise unsupported(self, "tenant namespaces (store.tenant) for policies")


class SessionStore(ABC):
    """Per-execution :class:`~agentstore.types.SessionRecord` storage (``sessions``).

    A record saved with ``ttl_secs`` expires that many seconds later on the store's
    ``clock``: from then on :meth:`load` raises NotFound and :meth:`ids` omits it, as if it
    had been deleted. Saving the session again replaces its expiry (none, without
    ``ttl_secs``). Expired records may stay in storage until :meth:`purge_expired` removes
    them; they are never returned.
    """

    clock: Clock = time.time
    """The store's clock (``time.time`` for a driver written before sessions expired)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    def save(self, record: SessionRecord, ttl_secs: float | None = None) -> None:
        """Store ``record`` under its session id, overwriting any previous record; with
        ``ttl_secs`` (a positive number of seconds), it expires that long from now.

        Raises:
            Unsupported: ``ttl_secs`` was given and the driver cannot expire sessions.
        """
        if not isinstance(record, SessionRecord):
            raise InvalidInput(f"expected a SessionRecord, not {type(record).__name__}")
        if ttl_secs is None:
            with DriverCall("SessionStore.save", record.session_id):
                self._save(record)
            return
        expires_at = self.clock() + check_seconds(ttl_secs, "ttl_secs")
        with DriverCall("SessionStore.save", record.session_id):
            self._save_expiring(record, expires_at)

    def load(self, session_id: SessionId) -> SessionRecord:
        """The stored record. Raises NotFound if there is none, or it has expired."""
        if not isinstance(session_id, SessionId):
            raise InvalidInput(f"expected a SessionId, not {type(session_id).__name__}")
        now = self.clock()
        with DriverCall("SessionStore.load", session_id):
            record = self._load_at(session_id, now)
        if record is None:
            raise NotFound(f"no session {session_id}")
        return record

    def delete(self, session_id: SessionId) -> None:
        """Remove the record. Idempotent."""
        if not isinstance(session_id, SessionId):
            raise InvalidInput(f"expected a SessionId, not {type(session_id).__name__}")
        with DriverCall("SessionStore.delete", session_id):
            self._delete(session_id)

    def ids(self, after: SessionId | None = None) -> Iterator[SessionId]:
        """The id of every stored, unexpired session, sorted (past ``after`` when given),
        streamed a page at a time.

        Raises:
            Unsupported: the driver was written before sessions could be listed.
        """
        start = check_after(after, SessionId, "after")
        now = self.clock()
        return _listing("SessionStore.ids", lambda: self._list_sessions(start, now))

    def purge_expired(self) -> int:
        """Remove every expired record from storage; return how many were removed.

        Never needed for correctness (expired records are never returned): it reclaims
        their space. Safe to run while sessions are saved: a record saved again before
        the purge reaches it is kept.
        """
        now = self.clock()
        with DriverCall("SessionStore.purge_expired"):
            return self._purge_expired(now)

    @abstractmethod
    def _save(self, record: SessionRecord) -> None:
        """Store ``record`` with no expiry, replacing any record (and expiry) it had."""

    @abstractmethod
    def _load(self, session_id: SessionId) -> SessionRecord | None: ...

    @abstractmethod
    def _delete(self, session_id: SessionId) -> None: ...

    def _save_expiring(self, record: SessionRecord, expires_at: float) -> None:
        """Store ``record``, replacing any record it had, expiring at ``expires_at``
        (seconds on the store's clock): a record is expired once ``now >= expires_at``."""
        raise unsupported(self, "sessions with a time to live (sessions.save(ttl_secs=))")

    def _load_at(self, session_id: SessionId, now: float) -> SessionRecord | None:
        """The record unless absent or expired at ``now`` (None then). The default is
        :meth:`_load`, right for a driver that never stores an expiry; a driver that
        implements :meth:`_save_expiring` overrides it."""
        return self._load(session_id)

    def _list_sessions(self, after: SessionId | None, now: float) -> Iterator[SessionId]:
        """Ids of the sessions unexpired at ``now`` and above ``after`` (None: all),
        sorted, streamed (not materialised)."""
        raise unsupported(self, "listing sessions (sessions.ids)")

    def _purge_expired(self, now: float) -> int:
        """Delete the records expired at ``now``, each only if it is still the expired
        one (not saved again meanwhile); return how many were deleted."""
        raise unsupported(self, "purging expired sessions (sessions.purge_expired)")

    def _scoped(self, tenant: str) -> SessionStore:
        """A store of the same driver and backing whose keys live in tenant ``tenant``'s
        namespace (``tenant`` already checked by :func:`agentstore.tenancy.check_tenant`):
        disjoint from this store's keys and every other tenant's, its listings and its
        maintenance (``purge_expired``) reaching only that namespace. Calls for the same tenant
        reach the same data; the result shares this store's connections. ``store.tenant``
        serves sessions through it."""
        raise unsupported(self, "tenant namespaces (store.tenant) for sessions")


class CredentialStore(ABC):
    """Named secret material as opaque bytes (capability ``credentials``).

    A secret value never appears in a repr, a log line or an error message raised by the
    store; only its name may. :meth:`names` lists names only, never a value.
    """

    _max_value_bytes: int = MAX_SECRET_BYTES
    """The largest value :meth:`put_secret` takes: less than MAX_SECRET_BYTES for a store
    that wraps another one's values (an envelope must still fit the wrapped store)."""

    def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, overwriting any previous value."""
        key = check_name(name, "secret name")
        if not isinstance(value, bytes | bytearray | memoryview):
            # Name the type only: the value itself may be the secret.
            raise InvalidInput(f"a secret value must be bytes, not {type(value).__name__}")
        checked = check_payload(value, f"secret {key!r}", self._max_value_bytes)
        with DriverCall("CredentialStore.put_secret", key):
            self._put_secret(key, checked)

    def get_secret(self, name: str) -> bytes:
        """The stored value. Raises NotFound (naming only ``name``) if absent."""
        key = check_name(name, "secret name")
        with DriverCall("CredentialStore.get_secret", key):
            value = self._get_secret(key)
        if value is None:
            raise NotFound(f"no secret named {key!r}")
        return value

    def delete_secret(self, name: str) -> None:
        """Remove the secret. Idempotent."""
        key = check_name(name, "secret name")
        with DriverCall("CredentialStore.delete_secret", key):
            self._delete_secret(key)

    def names(self, after: str | None = None) -> Iterator[str]:
        """The name of every stored secret, never a value, sorted by code point (past
        ``after`` when given), streamed a page at a time.

        Raises:
            Unsupported: the driver was written before secrets could be listed.
        """
        start = check_name_after(after)
        return _listing("CredentialStore.names", lambda: self._list_secret_names(start))

    @abstractmethod
    def _put_secret(self, name: str, value: bytes) -> None: ...

    @abstractmethod
    def _get_secret(self, name: str) -> bytes | None: ...

    @abstractmethod
    def _delete_secret(self, name: str) -> None: ...

    def _swap_secret(self, name: str, expected: bytes, value: bytes) -> bool:
        """Store ``value`` only if the stored value is still ``expected``; return whether
        it was stored. Key rotation relies on it never to overwrite a newer value.

        The default reads then writes, which a concurrent put can slip between; a driver
        overrides it with one atomic compare-and-set.
        """
        if self._get_secret(name) != expected:
            return False
        self._put_secret(name, value)
        return True

    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        """Names of the stored secrets above ``after`` (None: all) by code point, sorted,
        streamed (not materialised); a value is never read into a result."""
        raise unsupported(self, "listing secrets (credentials.names)")


class LifecycleStore(ABC):
    """Agent liveness bookkeeping (capability ``lifecycle``). Times come from ``clock``."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    def register(self, agent_id: AgentId) -> None:
        """Record the agent as registered and alive now. Registering again refreshes it."""
        agent = _check_agent(agent_id)
        now = self.clock()
        with DriverCall("LifecycleStore.register", agent):
            self._register(agent, now)

    def heartbeat(self, agent_id: AgentId) -> None:
        """Mark a registered agent alive now. Raises NotFound unless it is registered."""
        agent = _check_agent(agent_id)
        now = self.clock()
        with DriverCall("LifecycleStore.heartbeat", agent):
            alive = self._heartbeat(agent, now)
        if not alive:
            raise NotFound(f"agent {agent_id} is not registered")

    def deregister(self, agent_id: AgentId) -> None:
        """Forget the agent. Idempotent."""
        agent = _check_agent(agent_id)
        with DriverCall("LifecycleStore.deregister", agent):
            self._deregister(agent)

    def info(self, agent_id: AgentId) -> AgentInfo:
        """What is known of a registered agent. Raises NotFound unless it is registered."""
        agent = _check_agent(agent_id)
        with DriverCall("LifecycleStore.info", agent):
            found = self._info(agent)
        if found is None:
            raise NotFound(f"agent {agent_id} is not registered")
        return found

    def live(self, ttl_secs: float) -> list[AgentId]:
        """Registered agents whose last heartbeat (or registration) is within ``ttl_secs``.

        Sorted by id. An agent exactly ``ttl_secs`` old still counts as live.
        """
        cutoff = self.clock() - check_seconds(ttl_secs, "ttl_secs")
        with DriverCall("LifecycleStore.live"):
            return sorted(self._live_since(cutoff))

    def agents(self, after: AgentId | None = None) -> Iterator[AgentInfo]:
        """What is known of every registered agent, live or not, sorted by agent id (past
        ``after`` when given), streamed a page at a time.

        Raises:
            Unsupported: the driver was written before agents could be listed.
        """
        start = check_after(after, AgentId, "after")
        return _listing("LifecycleStore.agents", lambda: self._list_agents(start))

    def prune(self, ttl_secs: float) -> int:
        """Deregister every agent not seen within ``ttl_secs`` (the agents :meth:`live`
        leaves out); return how many were deregistered.

        An agent exactly ``ttl_secs`` old is kept, as :meth:`live` counts it; one whose
        heartbeat lands while the prune runs is kept too.

        Raises:
            Unsupported: the driver was written before agents could be pruned.
        """
        cutoff = self.clock() - check_seconds(ttl_secs, "ttl_secs")
        with DriverCall("LifecycleStore.prune"):
            return self._prune_before(cutoff)

    @abstractmethod
    def _register(self, agent_id: AgentId, now: float) -> None: ...

    @abstractmethod
    def _heartbeat(self, agent_id: AgentId, now: float) -> bool:
        """Return False when the agent is not registered."""

    @abstractmethod
    def _deregister(self, agent_id: AgentId) -> None: ...

    @abstractmethod
    def _info(self, agent_id: AgentId) -> AgentInfo | None: ...

    @abstractmethod
    def _live_since(self, cutoff: float) -> Iterable[AgentId]:
        """Agents whose last heartbeat is at or after ``cutoff``."""

    def _list_agents(self, after: AgentId | None) -> Iterator[AgentInfo]:
        """Every registered agent with an id above ``after`` (None: all), sorted by id,
        streamed (not materialised)."""
        raise unsupported(self, "listing agents (lifecycle.agents)")

    def _prune_before(self, cutoff: float) -> int:
        """Deregister, atomically each, the agents whose last heartbeat is before
        ``cutoff`` at the moment each is removed (a heartbeat racing the prune keeps its
        agent); return how many were removed."""
        raise unsupported(self, "pruning agents (lifecycle.prune)")

    def _scoped(self, tenant: str) -> LifecycleStore:
        """A store of the same driver and backing whose keys live in tenant ``tenant``'s
        namespace (``tenant`` already checked by :func:`agentstore.tenancy.check_tenant`):
        disjoint from this store's keys and every other tenant's, its listings and its
        maintenance (``live`` and ``prune``) reaching only that namespace. Calls for the same tenant
        reach the same data; the result shares this store's connections. ``store.tenant``
        serves lifecycle through it."""
        raise unsupported(self, "tenant namespaces (store.tenant) for lifecycle")


__all__ = [
    "Clock",
    "CredentialStore",
    "LifecycleStore",
    "PolicyStore",
    "SessionStore",
    "check_after",
    "check_name_after",
    "unsupported",
]
