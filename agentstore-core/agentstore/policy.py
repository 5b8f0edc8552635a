"""StorePolicy: the reviewed TOML that names the backend of every capability.

.. code-block:: toml

    [store]
    backend = "sqlite"              # the driver for every capability unless overridden

    [store.sqlite]
    path = "agentstore.db"

    [store.postgres]
    url = { env = "AGENTSTORE_POSTGRES_URL" }   # secrets by reference

    [store.capabilities]            # optional per-capability override
    rate_limits = "memory"

A file without ``[store]`` but with aa-storage's ``[storage]`` table is read as the
equivalent policy (see :mod:`agentstore._aa_storage`); a file with neither is the built-in
default.

A policy keeps ``{ env = "NAME" }`` references unresolved: they are read from the
environment only when a store is opened, so a policy's repr, str and dump never hold a
secret that came from the environment.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from agentstore import _aa_storage
from agentstore._env_refs import check_section_values, dump_toml, resolve_env
from agentstore._policy_resolve import (
    DEFAULT_BACKEND,
    DEFAULT_SQLITE_PATH,
    ResolvedPolicy,
    resolve_policy,
)
from agentstore._policy_wording import (
    POLICY_EXPECTED,
    database_hint,
    did_you_mean,
    inline_password,
    repath,
    written_path,
)
from agentstore.capabilities import CAPABILITIES, CapabilityName
from agentstore.crypto.keys import TABLE as ENCRYPTION_TABLE
from agentstore.crypto.keys import check_table
from agentstore.errors import (
    ConfigError,
    InvalidPolicy,
)
from agentstore.redact import redact
from agentstore.registry import Registry, default_registry

CONFIG_FILENAME: Final = "agentstore.toml"
CONFIG_ENV: Final = "AGENTSTORE_CONFIG"
_RESERVED_KEYS: Final = ("backend", "capabilities", ENCRYPTION_TABLE)


def _capability_hint(name: str) -> str:
    """A did-you-mean for an unknown capability; aa-storage's kind names map to theirs."""
    meant = _aa_storage.KIND_KEYS.get(name.lower())
    return f"; did you mean {meant!r}?" if meant else did_you_mean(name, CAPABILITIES)


class StorePolicy:
    """Which driver serves each capability, and each driver's settings.

    Build one with :meth:`load` (a file), :meth:`loads` (text), :meth:`default`, or the
    constructor. Equality compares content (a policy read from aa-storage's ``[storage]``
    table equals its ``[store]`` equivalent). ``repr``/``str`` show the backend, the
    overrides and the section names only, never a value.
    """

    __slots__ = (
        "_backend",
        "_capabilities",
        "_encryption",
        "_paths",
        "_sections",
        "_table",
        "source",
    )

    def __init__(
        self,
        backend: str = DEFAULT_BACKEND,
        *,
        capabilities: Mapping[str, str] | None = None,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        encryption: Mapping[str, Any] | None = None,
        source: str | Path | None = None,
    ) -> None:
        if not isinstance(backend, str) or not backend:
            raise InvalidPolicy("must be a non-empty driver name", path="store.backend")
        caps: dict[CapabilityName, str] = {}
        for cap, driver in dict(capabilities or {}).items():
            if cap not in CAPABILITIES:
                raise InvalidPolicy(
                    f"unknown capability {cap!r}{_capability_hint(cap)} "
                    f"(known: {', '.join(CAPABILITIES)})",
                    path=f"store.capabilities.{cap}",
                )
            if not isinstance(driver, str) or not driver:
                raise InvalidPolicy("must be a driver name", path=f"store.capabilities.{cap}")
            caps[cap] = driver
        secs: dict[str, dict[str, Any]] = {}
        for name, section in dict(sections or {}).items():
            if name in _RESERVED_KEYS:
                raise InvalidPolicy("is not a driver section", path=f"store.{name}")
            if not isinstance(section, Mapping):
                hint = did_you_mean(name, _RESERVED_KEYS)
                raise InvalidPolicy(
                    f"unknown key {name!r} in [store]{hint} (the keys are backend, "
                    f"capabilities and one [store.<driver>] table per driver)",
                    path=f"store.{name}",
                )
            check_section_values(dict(section), f"store.{name}")
            secs[name] = dict(section)
        if encryption is not None:
            check_table(encryption)
        self._encryption = None if encryption is None else dict(encryption)
        self._backend = backend
        self._capabilities = caps
        self._sections = secs
        self._table: str | None = "store"
        self._paths: dict[str, str] = {}
        self.source = None if source is None else str(source)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def default(cls) -> StorePolicy:
        """The embedded default: every capability on the sqlite driver with its defaults (a
        file named ``agentstore.db`` in the working folder)."""
        policy = cls(DEFAULT_BACKEND)
        policy._table = None
        return policy

    @classmethod
    def loads(cls, text: str, *, source: str | Path | None = None) -> StorePolicy:
        """Parse TOML text. A document without ``[store]`` (or empty) is the default.

        Raises:
            InvalidPolicy: malformed TOML (with line and column) or a misshapen value (with
                its TOML path).
        """
        where = f"{source}: " if source else ""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidPolicy(f"{where}not valid TOML: {exc}") from None
        return cls.from_mapping(doc, source=source)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str | Path | None = None) -> StorePolicy:
        """A policy built in code, in the shape of the TOML.

        ``doc`` is either a whole document as :meth:`loads` reads it (holding ``"store"``,
        or aa-storage's ``"storage"``) or the ``[store]`` table itself::

            StorePolicy.from_dict({
                "backend": "postgres",
                "postgres": {"url": settings.database_url, "schema": "agents"},
            })

        A secret from the application's own settings may be a pydantic ``SecretStr``
        wherever a section takes a string: kept as one until a store is opened, never shown
        by repr, str or :meth:`dumps`. ``{"env": "NAME"}`` works as in TOML; a password as a
        plain string is refused, as in a file. An empty mapping is the built-in default.

        Raises:
            InvalidPolicy: not a mapping, a misshapen value (with its TOML path), a password.
        """
        if not isinstance(doc, Mapping):
            raise InvalidPolicy(f"a policy is a mapping like the TOML, not {type(doc).__name__}")
        if doc and "store" not in doc and "storage" not in doc:
            doc = {"store": doc}  # the [store] table itself
        return cls.from_mapping(doc, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StorePolicy:
        """Read a policy file; its ``[store]`` table may sit beside other tables.

        Raises:
            InvalidPolicy: no such file, unreadable, not a policy (a database file or URL
                is named as such, with the policy to write instead), or invalid.
        """
        not_a_policy = database_hint(path, opens=POLICY_EXPECTED)
        if not_a_policy is not None:
            raise InvalidPolicy(not_a_policy)
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidPolicy(f"policy file {p} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidPolicy(f"cannot read policy file {p}: {exc}") from None
        return cls.loads(text, source=p)

    @classmethod
    def from_mapping(
        cls, doc: Mapping[str, Any], *, source: str | Path | None = None
    ) -> StorePolicy:
        """Build from a parsed TOML document: its ``[store]`` table, else aa-storage's
        ``[storage]`` table read as the equivalent policy, else the built-in default.

        A ``[storage]`` table that names no storage kind (nor a near miss of one) is the
        application's own and is left alone. A document holding ``[store]`` and aa-storage's
        ``[storage]`` is refused.

        Raises:
            InvalidPolicy: a misshapen value (with its TOML path), or a password written
                inline rather than as ``{ env = "NAME" }``.
        """
        store = doc.get("store")
        storage = doc.get("storage")
        if isinstance(storage, Mapping) and not _aa_storage.names_a_kind(storage):
            storage = None  # the application's own [storage] table, not aa-storage's
        if storage is not None and store is not None:
            raise InvalidPolicy(
                "both [store] (agentstore's policy) and [storage] (aa-storage's format) "
                "are present; keep one of them",
                path="storage",
            )
        if store is None and storage is not None:
            return cls._from_storage(storage, source)
        if store is None:
            policy = cls.default()
            policy.source = None if source is None else str(source)
            return policy
        if not isinstance(store, Mapping):
            raise InvalidPolicy("must be a table: write [store]", path="store")
        backend = store.get("backend", DEFAULT_BACKEND)
        if not isinstance(backend, str):
            raise InvalidPolicy("must be a string naming a driver", path="store.backend")
        caps = store.get("capabilities", {})
        if not isinstance(caps, Mapping):
            raise InvalidPolicy("must be a table of capability = driver", path="store.capabilities")
        sections = {k: v for k, v in store.items() if k not in _RESERVED_KEYS}
        encryption = store.get(ENCRYPTION_TABLE)
        policy = cls(
            backend, capabilities=caps, sections=sections, encryption=encryption, source=source
        )
        policy._refuse_inline_passwords()
        return policy

    @classmethod
    def _from_storage(cls, table: object, source: str | Path | None) -> StorePolicy:
        parts = _aa_storage.read_storage(table, DEFAULT_BACKEND)
        try:
            policy = cls(
                parts.backend,
                capabilities=parts.capabilities,
                sections=parts.sections,
                source=source,
            )
            policy._paths = parts.paths
            policy._table = "storage"
            policy._refuse_inline_passwords()
        except ConfigError as exc:
            raise repath(exc, parts.paths) from None
        return policy

    def _refuse_inline_passwords(self) -> None:
        for name, section in self._sections.items():
            found = inline_password(section, self._path(f"store.{name}"))
            if found is not None:
                raise found

    # -- reading -------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def table(self) -> str | None:
        """The table this policy was read from: ``"store"`` (also for a policy built in
        code), ``"storage"`` (aa-storage's format), or None when no table said anything
        and the built-in default applies."""
        return self._table

    def _path(self, path: str) -> str:
        """A ``store.`` TOML path as this policy's file wrote it."""
        return written_path(path, self._paths)

    @property
    def capabilities(self) -> Mapping[CapabilityName, str]:
        """The per-capability overrides (capabilities not listed use :attr:`backend`)."""
        return dict(self._capabilities)

    @property
    def sections(self) -> Mapping[str, Mapping[str, Any]]:
        """The driver sections as written, env references unresolved."""
        return {k: dict(v) for k, v in self._sections.items()}

    @property
    def encryption(self) -> Mapping[str, Any] | None:
        """The ``[store.encryption]`` table as written (key references only), or None."""
        return None if self._encryption is None else dict(self._encryption)

    def driver_for(self, capability: CapabilityName) -> str:
        return self._capabilities.get(capability, self._backend)

    @property
    def routes(self) -> dict[CapabilityName, str]:
        return {cap: self.driver_for(cap) for cap in CAPABILITIES}

    def to_dict(self) -> dict[str, Any]:
        """The ``{"store": {...}}`` document, env references kept as references."""
        store: dict[str, Any] = {"backend": self._backend}
        for name, section in self._sections.items():
            store[name] = dict(section)
        if self._capabilities:
            store["capabilities"] = dict(self._capabilities)
        if self._encryption is not None:
            store[ENCRYPTION_TABLE] = dict(self._encryption)
        return {"store": store}

    def dumps(self, *, env: Mapping[str, str] | None = None) -> str:
        """TOML text that :meth:`loads` reads back to an equal policy.

        Env references stay inline (``url = { env = "NAME" }``), as a reviewer expects. A
        secret given in code (a ``SecretStr``, see :meth:`from_dict`) is never written:
        ``env`` maps its TOML path to the variable to reference instead
        (``env={"store.postgres.password": "APP_PG_PASSWORD"}``).

        Raises:
            InvalidPolicy: a section holds a password inline (a policy built in code with
                one), or a ``SecretStr`` whose path ``env`` does not name; the text would
                carry it, so none is written.
        """
        self._refuse_inline_passwords()
        return dump_toml(self.to_dict(), env or {})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StorePolicy):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=repr))

    def __repr__(self) -> str:
        caps = f", capabilities={self._capabilities!r}" if self._capabilities else ""
        return f"StorePolicy(backend={self._backend!r}{caps}, sections={sorted(self._sections)!r})"

    __str__ = __repr__

    # -- resolution ----------------------------------------------------------------------

    def resolve(
        self, registry: Registry | None = None, *, read_only: bool = False
    ) -> ResolvedPolicy:
        """Check the policy against the installed drivers and read env references.

        Every section whose driver is installed is checked by the driver's model, routed
        to or not; a section whose driver is not installed is listed in ``unused``.
        With ``read_only``, encryption keys that are absent (a variable unset, a key file
        missing or unreadable) are no error: the keyring is a
        :class:`~agentstore.crypto.keys.LockedKeyring`, which refuses every secret value.

        Raises:
            UnknownDriver: a route names a driver that is not installed (with the
                ``pip install`` line for first-party names), or a section's name is a near
                miss of an installed or first-party driver (a typo).
            MissingCapability: a capability is routed to a driver that lacks it.
            MissingDriverSection: a driver in use needs settings and has no section.
            MissingEnvironmentVariable: a referenced variable of a driver in use is unset.
            InvalidPolicy: a section's value fails the driver's own model.
        """
        try:
            return resolve_policy(self, registry or default_registry(), read_only=read_only)
        except ConfigError as exc:
            raise repath(exc, self._paths) from None


def find_policy(explicit: str | os.PathLike[str] | None = None) -> StorePolicy:
    """The policy ``agentstore.open()`` uses when given none.

    Order: ``explicit`` if given; else ``$AGENTSTORE_CONFIG`` if set; else
    ``./agentstore.toml`` if it exists; else :meth:`StorePolicy.default`.
    """
    if explicit is not None:
        return StorePolicy.load(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        if not Path(env).is_file():
            # Never echoed as given: a database URL or libpq string may carry a password.
            hint = (
                database_hint(env, f"${CONFIG_ENV} must name a policy file")
                if "://" in env
                else None
            )
            raise ConfigError(hint or f"${CONFIG_ENV} names {redact(env)}, which is not a file")
        return StorePolicy.load(env)
    local = Path(CONFIG_FILENAME)
    if local.is_file():
        return StorePolicy.load(local)
    return StorePolicy.default()


__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "DEFAULT_BACKEND",
    "DEFAULT_SQLITE_PATH",
    "ResolvedPolicy",
    "StorePolicy",
    "find_policy",
    "resolve_env",
]
