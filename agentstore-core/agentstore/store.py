"""The facade: one object giving every capability, wherever the policy puts it."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from agentstore._policy_wording import database_hint
from agentstore.audit import LogAuditSink
from agentstore.capabilities import (
    CAPABILITIES,
    AuditSink,
    CapabilityName,
    Clock,
    CredentialStore,
    GenerationStore,
    LifecycleStore,
    PolicyStore,
    RateLimitCounter,
    SessionStore,
    WriterLogStore,
)
from agentstore.checks import check_int
from agentstore.doorbell import Doorbell
from agentstore.errors import (
    BackendUnavailable,
    InvalidInput,
    InvalidPolicy,
    MissingCapability,
    StoreError,
    native_error,
)
from agentstore.feed import Followers, check_follow, follow
from agentstore.handles import Generation, StreamView, WriterLog
from agentstore.policy import CONFIG_ENV, StorePolicy, find_policy
from agentstore.registry import Registry
from agentstore.spec import DriverStores, OpenContext
from agentstore.translate import DriverCall
from agentstore.types import CommitEvent

if TYPE_CHECKING:
    # Imported where used: the crypto package is not needed until a key is.
    from agentstore.crypto.credentials import EncryptedCredentialStore
    from agentstore.crypto.keys import Keyring
    from agentstore.crypto.signing import SigningKey
    from agentstore.tenancy.view import TenantStore

_log = logging.getLogger("agentstore")


class Store:
    """An open store: the causal primitives, the doorbell and the governance stores.

    Obtain one with :func:`agentstore.open`. Safe to share between threads. Use it as a
    context manager, or call :meth:`close`; after closing, drivers release connections and
    files, and every capability (``generation``, ``log``, ``policies``, ...) raises
    StoreError saying the store is closed.
    """

    def __init__(
        self,
        policy: StorePolicy,
        opened: dict[str, DriverStores],
        routes: dict[CapabilityName, str],
        doorbell: Doorbell,
        keyring: Keyring | None = None,
    ) -> None:
        self.policy = policy
        self.keyring = keyring
        """The keys secrets are encrypted with (``[store.encryption]``), or None."""
        self.doorbell = doorbell
        self._opened = opened
        self._routes = routes
        self._closed = False
        self._lock = threading.Lock()
        self._followers = Followers()
        self._sealed: EncryptedCredentialStore | None = None
        if keyring is not None:
            from agentstore.crypto.credentials import EncryptedCredentialStore

            inner = getattr(opened[routes["credentials"]], "credentials", None)
            if inner is not None:
                self._sealed = EncryptedCredentialStore(inner, keyring)

    def _cap(self, capability: CapabilityName) -> Any:
        if self._closed:
            raise StoreError(
                f"cannot use capability {capability!r}: the store is closed; "
                "open it again with agentstore.open()"
            )
        if capability == "credentials" and self._sealed is not None:
            return self._sealed
        obj = getattr(self._opened[self._routes[capability]], capability)
        if obj is None:  # open() checked this; only a driver mutating its stores gets here
            raise MissingCapability(f"no driver serves capability {capability!r}")
        return obj

    def capability(self, name: CapabilityName) -> object:
        """The object the driver serves for capability ``name`` (its GenerationStore,
        WriterLogStore, ...), for a driver's own tools and tests to reach what only that
        driver has. Applications use ``generation()``, ``log()``, ``policies`` and the rest.

        Raises:
            InvalidInput: ``name`` is not a capability.
            StoreError: the store is closed.
        """
        if name not in CAPABILITIES:
            raise InvalidInput(
                f"unknown capability {name!r}; capabilities are {', '.join(CAPABILITIES)}"
            )
        obj: object = self._cap(name)
        return obj

    @property
    def routes(self) -> dict[CapabilityName, str]:
        """The driver serving each capability."""
        return dict(self._routes)

    # -- causal primitives ---------------------------------------------------------------

    def generation(self, name: str) -> Generation:
        """The monotonic counter called ``name``."""
        return Generation(cast(GenerationStore, self._cap("generations")), name)

    def log(self, stream: str, writer: str, *, signing_key: SigningKey | None = None) -> WriterLog:
        """The chained log of ``writer`` in ``stream``; appends ring :attr:`doorbell`, and
        ``redact`` records on :attr:`audit`.

        With ``signing_key`` (the writer's ed25519 key: a 32-byte private key seed or a
        ``cryptography`` Ed25519PrivateKey; it stays in this process), every append call
        also records a signed checkpoint of the new head, so that
        ``verify(trusted=[...])`` proves who wrote the chain (needs
        ``agentstore-core[crypto]``).
        """
        logs = cast(WriterLogStore, self._cap("logs"))
        audit = cast(AuditSink, self._cap("audit")) if "audit" in self._routes else None
        if signing_key is None:
            return WriterLog(logs, self.doorbell, stream, writer, audit)
        from agentstore.crypto.signing import Signer

        return WriterLog(logs, self.doorbell, stream, writer, audit, signer=Signer(signing_key))

    def logs(self) -> list[tuple[str, str]]:
        """Every ``(stream, writer)`` with entries, sorted (the audit chain included)."""
        return cast(WriterLogStore, self._cap("logs")).logs()

    # -- the commit feed -----------------------------------------------------------------

    def feed(self, after: int = 0, limit: int | None = None) -> Iterator[CommitEvent]:
        """The CommitEvents of every entry committed to the store's logs (every stream and
        writer, the audit chain included) with ``position > after``, in position order, at
        most ``limit`` of them (None: all), streamed in bounded memory.

        Positions are unique within the store and increase in commit order. No late gaps:
        once a reader has received position p, no entry with a position at most p ever
        appears later, so ``feed(after=last_seen)`` resumes without missing anything.

        Raises:
            Unsupported: the driver serving ``logs`` gives no positions.
        """
        start = check_int(after, "after", 0)
        most = None if limit is None else check_int(limit, "limit", 0)
        logs = cast(WriterLogStore, self._cap("logs"))
        call = DriverCall("Store.feed")
        with call:
            events = call.stream(logs._feed(start, most))
        return events if most is None else islice(events, most)

    def position(self) -> int:
        """The latest position the feed delivers now (0 when the store has no entries).

        Raises:
            Unsupported: the driver serving ``logs`` gives no positions.
        """
        logs = cast(WriterLogStore, self._cap("logs"))
        with DriverCall("Store.position"):
            return logs._position()

    def stream(self, name: str) -> StreamView:
        """Stream ``name`` read across all its writers, in position order."""
        return StreamView(cast(WriterLogStore, self._cap("logs")), name)

    def follow(self, after: int = 0, *, timeout: float | None = None) -> Iterator[CommitEvent]:
        """The feed from ``after`` (as :meth:`feed`), then each new commit as it happens.

        Waits on :attr:`doorbell` between reads, and reads the feed at least once a second
        for commits this process's doorbell does not hear (another process's). Events come
        from the feed only, so they keep its order and its no-late-gaps rule. Runs until
        ``timeout`` seconds (a number > 0) pass with no new event, then returns; forever
        when ``timeout`` is None. Closing the store ends it at once with StoreError.

        Raises:
            Unsupported: the driver serving ``logs`` gives no positions.
        """
        start, wait = check_follow(after, timeout)
        logs = cast(WriterLogStore, self._cap("logs"))

        def read(after: int, limit: int) -> Iterator[CommitEvent]:
            if self._closed:
                self._cap("logs")  # raises: the store is closed
            call = DriverCall("Store.follow")
            with call:
                return call.stream(logs._feed(after, limit))

        return follow(read, self.doorbell, start, wait, self._followers)

    # -- governance ----------------------------------------------------------------------

    @property
    def policies(self) -> PolicyStore:
        return cast(PolicyStore, self._cap("policies"))

    @property
    def audit(self) -> AuditSink:
        return cast(AuditSink, self._cap("audit"))

    def signed_audit(self, signing_key: SigningKey) -> AuditSink:
        """The audit sink, each emit also recording a checkpoint of the chain's head
        signed with ``signing_key``, so ``audit.verify(trusted=[...])`` proves who wrote
        it. Needs the audit chain on the store's logs (:class:`LogAuditSink`, which every
        first-party driver uses) and ``agentstore-core[crypto]``.

        Raises:
            StoreError: the audit capability keeps its chain elsewhere.
        """
        from agentstore.crypto.signing import SignedAuditSink, Signer

        sink = self.audit
        if not isinstance(sink, LogAuditSink):
            raise StoreError(
                f"the audit sink {type(sink).__name__} keeps its chain apart from the "
                "store's logs, where signed checkpoints are kept"
            )
        return SignedAuditSink(sink, Signer(signing_key))

    @property
    def sessions(self) -> SessionStore:
        return cast(SessionStore, self._cap("sessions"))

    @property
    def credentials(self) -> CredentialStore:
        return cast(CredentialStore, self._cap("credentials"))

    @property
    def rate_limits(self) -> RateLimitCounter:
        return cast(RateLimitCounter, self._cap("rate_limits"))

    @property
    def lifecycle(self) -> LifecycleStore:
        return cast(LifecycleStore, self._cap("lifecycle"))

    # -- tenants -------------------------------------------------------------------------

    def tenant(self, name: str) -> TenantStore:
        """This store as tenant ``name`` sees it: every capability confined to the
        tenant's own data (see :class:`~agentstore.tenancy.TenantStore`). Cheap: the view
        shares this store's drivers and connections.

        Raises:
            InvalidInput: ``name`` is not a tenant name (1 to 63 characters of ``a-z``,
                ``0-9`` and ``-``, not starting or ending with ``-``).
        """
        from agentstore.tenancy.view import TenantStore

        return TenantStore(self, name)

    # -- lifetime ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release every driver. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._followers.close()
        try:
            _close_all(self._opened)
        finally:
            _log.info("closed store (%s)", _drivers(self._routes))

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        drivers = sorted(set(self._routes.values()))
        return f"<agentstore.Store drivers={drivers} closed={self._closed}>"


def _drivers(routes: dict[CapabilityName, str]) -> str:
    """``sqlite`` when one driver serves everything, else ``memory: audit; sqlite: logs``."""
    serving: dict[str, list[str]] = {}
    for cap, driver in routes.items():
        serving.setdefault(driver, []).append(cap)
    if len(serving) == 1:
        return f"driver {next(iter(serving))}"
    return "drivers " + "; ".join(f"{d}: {', '.join(c)}" for d, c in sorted(serving.items()))


def _origin(policy: StorePolicy, found: bool) -> str:
    """Where the policy came from, for the INFO line of an open."""
    if policy.source is None:
        return "the built-in default policy" if found else "a policy built in code"
    if found and os.environ.get(CONFIG_ENV):
        return f"policy file {policy.source} (from ${CONFIG_ENV})"
    return f"policy file {policy.source}"


def _close_all(opened: dict[str, DriverStores]) -> None:
    first: BaseException | None = None
    for name, stores in opened.items():
        try:
            stores.close()
        except StoreError as exc:  # close the rest before reporting
            first = first or exc
        except Exception as exc:
            first = first or native_error(f"driver {name!r} failed to close", exc)
        except BaseException as exc:
            first = first or exc
    if first is not None:
        raise first


DRIVER_OF: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
"""The driver serving each capability object an open store holds (for telemetry)."""

traced_open: Callable[..., Store] | None = None
"""Set by :func:`agentstore.otel.instrument`: :func:`open` runs through it (in a span)."""


def open(
    source: StorePolicy | str | os.PathLike[str] | None = None,
    *,
    registry: Registry | None = None,
    clock: Clock | None = None,
    create: bool = True,
    read_only: bool = False,
) -> Store:
    """Open the store a policy describes.

    Args:
        source: a :class:`StorePolicy`, a path to a policy file, or None to find one:
            ``$AGENTSTORE_CONFIG``, else ``./agentstore.toml``, else the default policy
            (every capability on a local SQLite file, ``./agentstore.db``).
        registry: the driver registry to resolve names against (default: installed drivers).
        clock: seconds since the epoch for expiry and liveness (default ``time.time``).
        create: False to open an existing store only: nothing is created or upgraded
            (no file, table, index or schema); storage that holds no agentstore store
            raises StoreNotFound.
        read_only: True to only read (implies ``create=False``): storage the user may
            only read opens (a SQLite file read-only, a PostgreSQL role with SELECT
            only), and writes through the store fail. Encryption keys that are absent
            (a variable unset, a key file missing) do not stop a read-only open: only
            reading a secret's value then fails (``DecryptionFailed`` saying which key
            was missing), so chains verify and secrets' names list without the keys.

    Logged at INFO on the ``agentstore`` logger: the store opened (which policy file, or
    a policy built in code, and the driver of each capability), its close, and when the
    built-in default applies (no policy file, or one with no ``[store]`` nor
    ``[storage]`` table), the SQLite file; a driver section left unused because its
    driver is not installed is logged there too. Never a setting's value.

    Raises:
        InvalidInput: ``source`` is of another type, or ``clock`` is not callable.
        ConfigError: the policy is invalid or names drivers or capabilities not installed;
            a database file or URL given as ``source`` is named as such, with the policy
            to write instead.
        StoreNotFound: ``create`` is False and a backend holds no agentstore store.
        SchemaVersionError: a store's schema is newer than this code, or (``create``
            False) older than it can read without upgrading.
        BackendUnavailable: a backend could not be reached or opened.
    """
    if traced_open is not None:
        return traced_open(_open, source, registry, clock, create, read_only)
    return _open(source, registry, clock, create, read_only)


def _open(
    source: StorePolicy | str | os.PathLike[str] | None,
    registry: Registry | None,
    clock: Clock | None,
    create: bool,
    read_only: bool,
) -> Store:
    if read_only:
        create = False
    if clock is not None and not callable(clock):  # refused now, not at its first reading
        raise InvalidInput(
            f"clock must be a function returning seconds since the epoch (as time.time), "
            f"not {type(clock).__name__}"
        )
    found = False
    if isinstance(source, StorePolicy):
        policy = source
    elif source is None:
        policy = find_policy()
        found = True
    elif not isinstance(source, str | os.PathLike):
        raise InvalidInput(
            "source must be a StorePolicy, a path to a policy file or None, "
            f"not {type(source).__name__}"
        )
    else:
        hint = database_hint(source)  # before Path(), which would fold a URL's //
        if hint is not None:
            raise InvalidPolicy(hint)
        policy = StorePolicy.load(Path(source))
    resolved = policy.resolve(registry, read_only=read_only)
    for line in ([resolved.notice] if resolved.notice else []) + resolved.warnings:
        _log.info("%s%s", f"{policy.source}: " if policy.source else "", line)
    doorbell = Doorbell()
    opened: dict[str, DriverStores] = {}
    try:
        for name, (spec, config) in resolved.drivers.items():
            caps = frozenset(c for c, d in resolved.routes.items() if d == name)
            ctx = OpenContext(
                capabilities=caps,
                doorbell=doorbell,
                clock=clock or time.time,
                base_dir=resolved.base_dir,
                create=create,
                read_only=read_only,
            )
            try:
                stores = spec.opener(config, ctx)
            except StoreError:
                raise
            except Exception as exc:
                raise native_error(
                    f"driver {name!r} failed to open", exc, BackendUnavailable
                ) from exc
            opened[name] = stores
            for cap in caps:
                with contextlib.suppress(TypeError):  # an object without weak references
                    DRIVER_OF[getattr(stores, cap)] = name
            missing = sorted(c for c in caps if getattr(stores, c) is None)
            if missing:
                raise MissingCapability(
                    f"driver {name!r} opened without {', '.join(missing)} although it declares them"
                )
    except BaseException:
        with contextlib.suppress(StoreError):
            _close_all(opened)
        raise
    store = Store(policy, opened, dict(resolved.routes), doorbell, resolved.keyring)
    mode = " read-only" if read_only else "" if create else " (existing storage only)"
    _log.info("opened store%s from %s: %s", mode, _origin(policy, found), _drivers(store._routes))
    return store


__all__ = [
    "Store",
    "open",
]
