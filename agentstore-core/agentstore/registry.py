"""The driver registry: which drivers are installed, and how to open one.

Drivers arrive through the ``agentstore.drivers`` entry point group (loaded with pluggy) or
are registered in-process. Discovery imports each driver's plugin module only: no database
client is imported until a store using that driver is opened.
"""

from __future__ import annotations

import re
import threading
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import pluggy
from pydantic import BaseModel, ConfigDict

from agentstore import _discovery, hookspecs
from agentstore._policy_wording import did_you_mean
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
from agentstore.doorbell import Doorbell
from agentstore.errors import ConfigError, DuplicateDriver, UnknownDriver

FIRST_PARTY: Final[Mapping[str, str]] = types.MappingProxyType(
    {
        "memory": "agentstore-memory",
        "sqlite": "agentstore-sqlite",
        "postgres": "agentstore-postgres",
    }
)
"""First-party driver names and the distribution that provides each."""


class NoConfig(BaseModel):
    """The config model of a driver that takes no settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


@dataclass(frozen=True)
class OpenContext:
    """What the facade hands a driver's ``open`` callable.

    Attributes:
        capabilities: the capabilities this store routes to the driver; open only these.
        doorbell: the store's doorbell; a driver that learns of commits made elsewhere
            (another process) rings it. Local appends are rung by the facade.
        clock: the store's clock, for expiry and liveness (never for ordering).
        base_dir: the folder relative paths in the driver's section are relative to (the
            policy file's folder, or the working directory).
        create: whether the driver may create or upgrade storage. When False it runs no
            DDL and creates nothing (no file, table, schema or key); storage holding no
            agentstore store raises :class:`~agentstore.errors.StoreNotFound` naming
            it. A driver whose every open starts a new private store (``memory``)
            ignores it.
        read_only: the caller only reads. Always comes with ``create=False``. A driver
            that can open its storage read-only does so, so storage the user may only
            read opens and a write fails; one that cannot still honours ``create``.
    """

    capabilities: frozenset[CapabilityName]
    doorbell: Doorbell = field(default_factory=Doorbell)
    clock: Clock = time.time
    base_dir: Path = field(default_factory=Path.cwd)
    create: bool = True
    read_only: bool = False


@dataclass
class DriverStores:
    """The capability objects an opened driver serves, and how to release them.

    Leave a capability ``None`` when the driver was not asked for it.
    """

    generations: GenerationStore | None = None
    logs: WriterLogStore | None = None
    policies: PolicyStore | None = None
    audit: AuditSink | None = None
    sessions: SessionStore | None = None
    credentials: CredentialStore | None = None
    rate_limits: RateLimitCounter | None = None
    lifecycle: LifecycleStore | None = None
    close: Callable[[], None] = lambda: None


Opener = Callable[[Any, OpenContext], DriverStores]

_DRIVER_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class DriverSpec:
    """A driver as a plugin registers it.

    Attributes:
        name: what a policy writes (``backend = "sqlite"``): lowercase ASCII letters,
            digits, ``-`` and ``_``, starting with a letter or digit.
        open: ``open(config, context) -> DriverStores``; imports its client library lazily.
        capabilities: the capabilities the driver provides.
        config_model: the pydantic model of its ``[store.<name>]`` section; a model whose
            fields all have defaults makes the section optional. It is validated with
            ``context={"section": <the section as written>}``, env references unresolved,
            so a validator can refuse a secret written inline.
        description: one line for ``agentstore drivers``.
        conformance: optional ``"package.module:attribute"`` naming an
            :class:`agentstore.conformance.ConformanceSupport` (how the conformance suite
            makes a fresh store, whether data persists, how to tamper with a chain). A
            string, so discovery imports nothing; only the conformance suite loads it.
        distribution, version: filled in by the registry from the entry point.
        tamper_evident: the driver keeps what ``WriterLog.verify`` promises, truncation
            included: a log whose last entries (or every entry) were deleted behind the
            store's back fails ``verify()``. This needs each log's head recorded apart
            from its entries, moved in the same transaction as every append: the default
            ``WriterLogStore._verify`` checks it when the driver returns it from
            ``_recorded_head``. A driver that cannot keep this declares False; the
            conformance suite then skips its truncation tests, and ``agentstore drivers``
            shows it.
        cross_process: stores opened by separate processes on the same storage share it
            safely: appends, bumps and increments from every process serialize, nothing is
            lost. The conformance suite runs its multi-process tests only when this is
            declared; ``agentstore drivers`` shows it.
    """

    name: str
    open: Opener
    capabilities: frozenset[CapabilityName] = frozenset(CAPABILITIES)
    config_model: type[BaseModel] = NoConfig
    description: str = ""
    conformance: str | None = None
    distribution: str | None = None
    version: str | None = None
    tamper_evident: bool = True
    cross_process: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _DRIVER_NAME.fullmatch(self.name):
            raise ConfigError(
                f"invalid driver name {self.name!r}: use lowercase letters, digits, - and _, "
                "starting with a letter or digit"
            )
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ConfigError(
                f"driver {self.name!r} declares unknown capabilities {sorted(unknown)}; "
                f"known: {', '.join(CAPABILITIES)}"
            )
        for flag in ("tamper_evident", "cross_process"):
            if type(getattr(self, flag)) is not bool:
                raise ConfigError(
                    f"driver {self.name!r}: {flag} must be True or False, "
                    f"not {type(getattr(self, flag)).__name__}"
                )
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))

    @property
    def needs_section(self) -> bool:
        """True when the config model cannot be built from an empty section."""
        if not _defaults_are_valid(self.config_model):
            try:
                self.config_model.model_validate({})
            except Exception:
                return True
            return False
        return any(f.is_required() for f in self.config_model.model_fields.values())

    def build_config(self, values: Mapping[str, Any], section: Mapping[str, Any]) -> BaseModel:
        """The driver's config from a section's values (env references resolved).

        ``section`` is the section as written, handed to validators as
        ``context["section"]``. An empty section of a model whose defaults pydantic would
        take unvalidated anyway is built without validating (the same result, without
        building a validator at open).

        Raises:
            pydantic.ValidationError: the values do not fit the model.
        """
        model = self.config_model
        required = any(f.is_required() for f in model.model_fields.values())
        if not values and not required and _defaults_are_valid(model):
            return model.model_construct()
        return model.model_validate(values, context={"section": section})


def _defaults_are_valid(model: type[BaseModel]) -> bool:
    """Whether ``model.model_validate({})`` can only give ``model.model_construct()``.

    True for a plain model: every field known, no model validator, no default validated,
    no ``model_post_init`` (which validation would hand the context), no core schema of
    its own and not a RootModel. Pydantic then takes every default as it is, which is what
    ``model_construct`` does. Anything else is validated.
    """
    if (
        model.__pydantic_decorators__.model_validators
        or model.model_config.get("validate_default")
        or getattr(model, "__pydantic_post_init__", None) is not None
        or getattr(model, "__pydantic_root_model__", False)
        or not getattr(model, "__pydantic_fields_complete__", True)
        or getattr(model.__get_pydantic_core_schema__, "__func__", None) is not _BASE_CORE_SCHEMA
    ):
        return False
    return not any(f.validate_default for f in model.model_fields.values())


_BASE_CORE_SCHEMA: Final = getattr(BaseModel.__get_pydantic_core_schema__, "__func__", None)


@dataclass(frozen=True)
class BrokenPlugin:
    """An installed entry point that failed to load; shown by ``agentstore drivers``."""

    name: str
    distribution: str | None
    error: str


class Registry:
    """The installed and in-process drivers, by name.

    Thread-safe. Entry points are loaded once, on first use.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._load_entry_points = load_entry_points
        self._loaded = False
        self._lock = threading.RLock()
        self._drivers: dict[str, DriverSpec] | None = None
        self._broken: list[BrokenPlugin] = []
        self._extra: list[DriverSpec] = []
        self._dists: dict[int, tuple[str, str]] = {}  # id(plugin) -> its distribution

    # -- registration ------------------------------------------------------------------

    def register_plugin(self, plugin: object, name: str | None = None) -> None:
        """Register a module or object implementing ``register_drivers`` in-process.

        Raises:
            DuplicateDriver: it registers a name already taken; it is not kept.
        """
        with self._lock:
            self._pm.register(plugin, name=name)
            self._drivers = None
            try:
                self._pm.check_pending()
                self._collect()
            except Exception:
                self._pm.unregister(plugin)
                self._drivers = None
                raise

    def unregister_plugin(self, plugin: object) -> None:
        with self._lock:
            self._pm.unregister(plugin)
            self._drivers = None

    def register(self, spec: DriverSpec) -> None:
        """Register one driver spec in-process (an application's private driver, a test).

        Raises:
            DuplicateDriver: the name is taken; the registry is left unchanged.
        """
        with self._lock:
            first = self._collect().get(spec.name)
            if first is not None:
                raise _duplicate(first, spec)
            self._extra.append(spec)
            self._drivers = None

    def unregister(self, name: str) -> None:
        """Remove an in-process driver registered with :meth:`register`."""
        with self._lock:
            self._extra = [s for s in self._extra if s.name != name]
            self._drivers = None

    # -- lookup ------------------------------------------------------------------------

    @property
    def drivers(self) -> Mapping[str, DriverSpec]:
        """Every registered driver by name (a read-only view)."""
        with self._lock:
            return types.MappingProxyType(dict(self._collect()))

    @property
    def broken(self) -> list[BrokenPlugin]:
        """Entry points that failed to import."""
        with self._lock:
            self._collect()
            return list(self._broken)

    def get(self, name: str) -> DriverSpec:
        """The driver called ``name``.

        Raises:
            UnknownDriver: listing the installed drivers, with the ``pip install`` line when
                ``name`` is a first-party driver, or the closest installed name; for an
                installed driver whose plugin failed to import, that error.
        """
        drivers = self._collect()
        spec = drivers.get(name)
        if spec is not None:
            return spec
        for broken in self._broken:
            if broken.name == name:  # installed, but its plugin did not import
                dist = broken.distribution or "the distribution that provides it"
                error = broken.error.splitlines()[0] if broken.error else "unknown error"
                raise UnknownDriver(
                    f"driver {name!r} is installed"
                    f"{f' ({broken.distribution})' if broken.distribution else ''} but failed "
                    f"to load: {error}; repair or reinstall {dist} (`agentstore drivers` "
                    f"lists what loaded)"
                )
        installed = ", ".join(sorted(drivers)) or "none"
        if name in FIRST_PARTY:
            dist = FIRST_PARTY[name]
            raise UnknownDriver(
                f"driver {name!r} is not installed; it is provided by {dist}: "
                f"run `pip install {dist}` (installed drivers: {installed})"
            )
        again = did_you_mean(name, list(drivers) + list(FIRST_PARTY))  # case ignored
        raise UnknownDriver(f"unknown driver {name!r} (installed drivers: {installed}){again}")

    # -- internals ---------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded or not self._load_entry_points:
            self._loaded = True
            return
        self._loaded = True
        # One pass of our own rather than pluggy's loader: that one keys plugins by entry
        # point name, so a second distribution using the same name was silently skipped,
        # and blocking a broken one by name blocked a good one too. Each entry point is
        # kept or listed as broken on its own; a second distribution's plugin is
        # registered under "name@dist" so a clash of driver names is reported.
        for ep in _discovery.entry_points(hookspecs.ENTRY_POINT_GROUP):
            dist = ep.distribution
            try:
                plugin = ep.load()
                if self._pm.is_registered(plugin):
                    continue  # the same module named by two entry points
                taken = self._pm.has_plugin(ep.name) or self._pm.is_blocked(ep.name)
                self._pm.register(plugin, name=f"{ep.name}@{dist}" if taken else ep.name)
            except Exception as exc:
                self._broken.append(BrokenPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}"))
                continue
            if dist is not None:
                self._dists[id(plugin)] = (dist, ep.version or "")
        self._pm.check_pending()

    def _collect(self) -> dict[str, DriverSpec]:
        with self._lock:
            if self._drivers is not None:
                return self._drivers
            self._load()
            dists = self._dists
            found: dict[str, DriverSpec] = {}

            def add(spec: DriverSpec, dist: tuple[str, str] | None) -> None:
                if not isinstance(spec, DriverSpec):
                    raise ConfigError(f"register() takes a DriverSpec, not {spec!r}")
                if dist is not None and spec.distribution is None:
                    spec = _with_dist(spec, *dist)
                if spec.name in found:
                    raise _duplicate(found[spec.name], spec)
                found[spec.name] = spec

            for impl in self._pm.hook.register_drivers.get_hookimpls():
                dist = dists.get(id(impl.plugin))
                impl.function(register=lambda spec, dist=dist: add(spec, dist))
            for spec in self._extra:
                add(spec, None)
            self._drivers = found
            return found


def _with_dist(spec: DriverSpec, dist: str, version: str) -> DriverSpec:
    return replace(spec, distribution=dist, version=version)


def _origin(spec: DriverSpec) -> str:
    if spec.distribution:
        return f"{spec.distribution} {spec.version or ''}".strip()
    module = getattr(spec.open, "__module__", None)
    return f"an in-process registration ({module})" if module else "an in-process registration"


def _duplicate(first: DriverSpec, second: DriverSpec) -> DuplicateDriver:
    return DuplicateDriver(
        f"driver {second.name!r} is registered twice: by {_origin(first)} and by "
        f"{_origin(second)}; uninstall one of them"
    )


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry of installed drivers."""
    global _default  # noqa: PLW0603 - one lazily built registry per process
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


__all__ = [
    "FIRST_PARTY",
    "BrokenPlugin",
    "DriverSpec",
    "DriverStores",
    "NoConfig",
    "OpenContext",
    "Registry",
    "default_registry",
]
