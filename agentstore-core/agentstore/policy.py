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

A policy keeps ``{ env = "NAME" }`` references unresolved: they are read from the
environment only when a store is opened, so a policy's repr, str and dump never hold a
secret that came from the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tomli_w
from pydantic import BaseModel, ValidationError

from agentstore.capabilities import CAPABILITIES, CapabilityName
from agentstore.errors import (
    ConfigError,
    InvalidPolicy,
    MissingCapability,
    MissingDriverSection,
    MissingEnvironmentVariable,
    UnknownDriver,
)
from agentstore.registry import FIRST_PARTY, DriverSpec, Registry, default_registry

CONFIG_FILENAME: Final = "agentstore.toml"
CONFIG_ENV: Final = "AGENTSTORE_CONFIG"
DEFAULT_BACKEND: Final = "sqlite"
DEFAULT_SQLITE_PATH: Final = "agentstore.db"
_RESERVED_KEYS: Final = ("backend", "capabilities")


def _is_env_ref(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)


def _check_section_values(value: object, path: str) -> None:
    """Reject inline tables that are neither plain data nor a well-formed env reference."""
    if isinstance(value, dict):
        if "env" in value and not _is_env_ref(value):
            raise InvalidPolicy(
                'an environment reference is written { env = "NAME" } and nothing else',
                path=path,
            )
        for k, v in value.items():
            _check_section_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_section_values(v, f"{path}[{i}]")


def resolve_env(value: Any, path: str) -> Any:
    """Replace every ``{ env = "NAME" }`` in ``value`` by the variable's value."""
    if _is_env_ref(value):
        name = value["env"]
        found = os.environ.get(name)
        if found is None:
            raise MissingEnvironmentVariable(
                f"environment variable {name} is not set; set it or write the value inline",
                path=path,
            )
        return found
    if isinstance(value, dict):
        return {k: resolve_env(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _validation_message(exc: ValidationError, prefix: str) -> InvalidPolicy:
    # Build the text from locations and messages only: an input value may be a secret.
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"])
    path = f"{prefix}.{loc}" if loc else prefix
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return InvalidPolicy(f"{err['msg']}{more}", path=path)


@dataclass(frozen=True)
class ResolvedPolicy:
    """A policy checked against installed drivers, env references resolved.

    Attributes:
        routes: the driver name serving each capability.
        drivers: each driver in use, with its spec and its validated config.
    """

    routes: Mapping[CapabilityName, str]
    drivers: Mapping[str, tuple[DriverSpec, BaseModel]]
    base_dir: Path


class StorePolicy:
    """Which driver serves each capability, and each driver's settings.

    Build one with :meth:`load` (a file), :meth:`loads` (text), :meth:`default`, or the
    constructor. Equality compares content. ``repr``/``str`` show the backend, the overrides
    and the section names only, never a value.
    """

    __slots__ = ("_backend", "_capabilities", "_sections", "source")

    def __init__(
        self,
        backend: str = DEFAULT_BACKEND,
        *,
        capabilities: Mapping[str, str] | None = None,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        source: str | Path | None = None,
    ) -> None:
        if not isinstance(backend, str) or not backend:
            raise InvalidPolicy("must be a non-empty driver name", path="store.backend")
        caps: dict[CapabilityName, str] = {}
        for cap, driver in dict(capabilities or {}).items():
            if cap not in CAPABILITIES:
                raise InvalidPolicy(
                    f"unknown capability {cap!r}; known: {', '.join(CAPABILITIES)}",
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
                raise InvalidPolicy(
                    f"unknown key {name!r} in [store]; the keys are backend, capabilities "
                    f"and one [store.<driver>] table per driver",
                    path=f"store.{name}",
                )
            _check_section_values(dict(section), f"store.{name}")
            secs[name] = dict(section)
        self._backend = backend
        self._capabilities = caps
        self._sections = secs
        self.source = None if source is None else str(source)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def default(cls) -> StorePolicy:
        """The embedded default: every capability on the sqlite driver with its defaults (a
        file named ``agentstore.db`` in the working folder)."""
        return cls(DEFAULT_BACKEND)

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
    def load(cls, path: str | os.PathLike[str]) -> StorePolicy:
        """Read a policy file; its ``[store]`` table may sit beside other tables."""
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
        """Build from a parsed TOML document (the ``[store]`` table is taken from it)."""
        store = doc.get("store")
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
        return cls(backend, capabilities=caps, sections=sections, source=source)

    # -- reading -------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def capabilities(self) -> Mapping[CapabilityName, str]:
        """The per-capability overrides (capabilities not listed use :attr:`backend`)."""
        return dict(self._capabilities)

    @property
    def sections(self) -> Mapping[str, Mapping[str, Any]]:
        """The driver sections as written, env references unresolved."""
        return {k: dict(v) for k, v in self._sections.items()}

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
        return {"store": store}

    def dumps(self) -> str:
        """TOML text that :meth:`loads` reads back to an equal policy.

        Env references stay inline (``url = { env = "NAME" }``), as a reviewer expects.
        """
        refs: dict[str, str] = {}

        def mark(value: Any) -> Any:
            # tomli-w writes every mapping as a table; swap references for unique
            # placeholders and put the inline form back after rendering.
            if _is_env_ref(value):
                token = f"agentstore-env-ref-{len(refs)}-{id(refs)}"
                refs[token] = "{ env = " + tomli_w.dumps({"v": value["env"]})[4:].strip() + " }"
                return token
            if isinstance(value, dict):
                return {k: mark(v) for k, v in value.items()}
            if isinstance(value, list):
                return [mark(v) for v in value]
            return value

        text = tomli_w.dumps(mark(self.to_dict()))
        for token, inline in refs.items():
            text = text.replace(f'"{token}"', inline)
        return text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StorePolicy):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.dumps())

    def __repr__(self) -> str:
        caps = f", capabilities={self._capabilities!r}" if self._capabilities else ""
        return f"StorePolicy(backend={self._backend!r}{caps}, sections={sorted(self._sections)!r})"

    __str__ = __repr__

    # -- resolution ----------------------------------------------------------------------

    def resolve(self, registry: Registry | None = None) -> ResolvedPolicy:
        """Check the policy against the installed drivers and read env references.

        Raises:
            UnknownDriver: a route names a driver that is not installed (with the
                ``pip install`` line for first-party names), or a section names a driver
                that is neither installed nor first-party (a typo).
            MissingCapability: a capability is routed to a driver that lacks it.
            MissingDriverSection: a driver in use needs settings and has no section.
            MissingEnvironmentVariable: a referenced variable is unset.
            InvalidPolicy: a section's value fails the driver's own model.
        """
        reg = registry or default_registry()
        installed = reg.drivers
        for name in self._sections:
            if name not in installed and name not in FIRST_PARTY:
                try:
                    reg.get(name)
                except UnknownDriver as exc:
                    raise UnknownDriver(
                        f"[store.{name}] names no installed driver: {exc.message}",
                        path=f"store.{name}",
                    ) from None
        routes = self.routes
        specs: dict[str, DriverSpec] = {}
        for cap, driver in routes.items():
            where = "store.backend" if driver == self._backend else f"store.capabilities.{cap}"
            if driver not in specs:
                try:
                    specs[driver] = reg.get(driver)
                except UnknownDriver as exc:
                    raise UnknownDriver(exc.message, path=where) from None
            if cap not in specs[driver].capabilities:
                provided = ", ".join(sorted(specs[driver].capabilities)) or "none"
                raise MissingCapability(
                    f"driver {driver!r} does not provide capability {cap!r} (it provides "
                    f"{provided}); route {cap} to another driver under [store.capabilities]",
                    path=where,
                )
        drivers: dict[str, tuple[DriverSpec, BaseModel]] = {}
        for name, spec in specs.items():
            raw = self._sections.get(name)
            if raw is None and spec.needs_section:
                raise MissingDriverSection(
                    f"driver {name!r} needs settings: add a [store.{name}] table", path="store"
                )
            values = resolve_env(raw or {}, f"store.{name}")
            try:
                # The section as written rides along so a model can insist that a secret
                # be given as an env reference rather than typed into a reviewed file.
                config = spec.build_config(values, raw or {})
            except ValidationError as exc:
                raise _validation_message(exc, f"store.{name}") from None
            drivers[name] = (spec, config)
        base = Path(self.source).resolve().parent if self.source is not None else Path.cwd()
        return ResolvedPolicy(routes=routes, drivers=drivers, base_dir=base)


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
            raise ConfigError(f"${CONFIG_ENV} names {env}, which is not a file")
        return StorePolicy.load(env)
    local = Path(CONFIG_FILENAME)
    if local.is_file():
        return StorePolicy.load(local)
    return StorePolicy.default()


__all__ = ["ResolvedPolicy", "StorePolicy", "find_policy"]
