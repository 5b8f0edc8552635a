"""The driver registry: which drivers are installed, and how to open one.

Drivers arrive through the ``agentstore.drivers`` entry point group (loaded with pluggy) or
are registered in-process. Discovery imports each driver's plugin module only: no database
client is imported until a store using that driver is opened.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

import pluggy

from agentstore import _discovery, hookspecs
from agentstore._policy_wording import did_you_mean
from agentstore.errors import ConfigError, DuplicateDriver, UnknownDriver
from agentstore.spec import DriverSpec, DriverStores, NoConfig, OpenContext

FIRST_PARTY: Final[Mapping[str, str]] = types.MappingProxyType(
    {
        "memory": "agentstore-memory",
        "sqlite": "agentstore-sqlite",
        "postgres": "agentstore-postgres",
    }
)
"""First-party driver names and the distribution that provides each."""


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
    opener = spec.open
    module = opener.partition(":")[0] if isinstance(opener, str) else opener.__module__
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
