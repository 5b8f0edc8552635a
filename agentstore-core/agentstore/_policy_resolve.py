"""Checking a :class:`~agentstore.policy.StorePolicy` against the installed drivers: every
route served, every section valid, env references read, the encryption keys loaded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, ValidationError

from agentstore._env_refs import resolve_env, resolve_set
from agentstore._policy_wording import did_you_mean, repath, validation_message
from agentstore.capabilities import CapabilityName
from agentstore.crypto.keys import Keyring, LockedKeyring, keyring_from_table
from agentstore.errors import (
    KeyFileUnavailable,
    MissingCapability,
    MissingDriverSection,
    MissingEnvironmentVariable,
    UnknownDriver,
)
from agentstore.registry import FIRST_PARTY, Registry
from agentstore.spec import DriverSpec

if TYPE_CHECKING:
    from agentstore.policy import StorePolicy

DEFAULT_BACKEND: Final = "sqlite"
"""The driver of a policy that names none."""
DEFAULT_SQLITE_PATH: Final = "agentstore.db"
"""The default SQLite file, beside the policy file (or in the working directory)."""


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
    unused: Mapping[str, str] = field(default_factory=dict)
    """Each section whose driver is not installed, with a line saying so."""
    notice: str | None = None
    """When the built-in default applies because no table said otherwise, a line saying so."""
    keyring: Keyring | None = None
    """The keys of ``[store.encryption]``, read; None when secrets are stored as given."""
    unencrypted: str | None = None
    """Without ``[store.encryption]``, when credentials go to a persistent driver: a line
    saying their values are stored unencrypted (``agentstore validate`` shows it)."""

    @property
    def warnings(self) -> list[str]:
        """The lines a reader of the policy should see (unused sections)."""
        return list(self.unused.values())


def resolve_policy(
    policy: StorePolicy, reg: Registry, *, read_only: bool = False
) -> ResolvedPolicy:
    """The policy checked against the drivers ``reg`` holds (:meth:`StorePolicy.resolve`
    says what is checked and raised); errors name the keys as the policy's file does."""
    installed = reg.drivers
    unused: dict[str, str] = {}
    for name in policy._sections:
        if name in installed:
            continue
        table = f"[{policy._path(f'store.{name}')}]"
        if name in FIRST_PARTY:
            unused[name] = (
                f"{table} is unused: driver {name!r} is not installed "
                f"(`pip install {FIRST_PARTY[name]}` provides it)"
            )
        elif did_you_mean(name, list(installed) + list(FIRST_PARTY)):
            try:
                reg.get(name)
            except UnknownDriver as exc:
                raise UnknownDriver(
                    f"{table} names no installed driver: {exc.message}",
                    path=f"store.{name}",
                ) from None
        else:
            unused[name] = f"{table} is unused: no installed driver is called {name!r}"
    routes = policy.routes
    specs: dict[str, DriverSpec] = {}
    for cap, driver in routes.items():
        where = (
            f"store.capabilities.{cap}"
            if cap in policy._capabilities or f"store.capabilities.{cap}" in policy._paths
            else "store.backend"
        )
        if driver not in specs:
            try:
                specs[driver] = reg.get(driver)
            except UnknownDriver as exc:
                raise UnknownDriver(exc.message, path=where) from None
        if cap not in specs[driver].capabilities:
            provided = ", ".join(sorted(specs[driver].capabilities)) or "none"
            fix = (
                "name another driver for it under [storage]"
                if policy._table == "storage"
                else f"route {cap} to another driver under [store.capabilities]"
            )
            raise MissingCapability(
                f"driver {driver!r} does not provide capability {cap!r} (it provides "
                f"{provided}); {fix}",
                path=where,
            )
    drivers: dict[str, tuple[DriverSpec, BaseModel]] = {}
    for name, spec in specs.items():
        raw = policy._sections.get(name)
        if raw is None and spec.needs_section:
            raise MissingDriverSection(
                f"driver {name!r} needs settings: add a [{policy._path(f'store.{name}')}] table",
                path=policy._table or "store",
            )
        values = resolve_env(raw or {}, f"store.{name}")
        drivers[name] = (spec, _check_section(policy, spec, name, values, raw or {}))
    for name, raw in policy._sections.items():
        if name in installed and name not in specs:
            # Not in use: checked all the same, except keys whose variable is unset.
            values, unset = {}, set()
            for key, value in raw.items():
                values[key], ok = resolve_set(value)
                if not ok:
                    unset.add(key)
                    del values[key]
            _check_section(policy, installed[name], name, values, raw, skip=frozenset(unset))
    base = Path(policy.source).resolve().parent if policy.source is not None else Path.cwd()
    notice = None
    if policy._table is None:
        where = "no [store] table" if policy.source else "no policy file"
        notice = (
            f"{where}: the built-in default applies: {DEFAULT_BACKEND} at "
            f"{base / DEFAULT_SQLITE_PATH}"
        )
    keyring, unencrypted = None, None
    if policy._encryption is not None:
        try:
            keyring = keyring_from_table(policy._encryption, base, policy._path("store.encryption"))
        except (MissingEnvironmentVariable, KeyFileUnavailable) as exc:
            # Absent, not wrong: a read-only open (an auditor's) goes on without the keys.
            # A malformed key or a key file others may read still fails every open.
            if not read_only:
                raise
            keyring = LockedKeyring(repath(exc, policy._paths).message)
    elif specs[routes["credentials"]].persistent:
        unencrypted = (
            f"credentials are stored unencrypted on driver {routes['credentials']!r}: "
            "add [store.encryption] with a key (`agentstore keygen` prints one) to "
            "encrypt them at rest"
        )
    return ResolvedPolicy(
        routes=routes,
        drivers=drivers,
        base_dir=base,
        unused=unused,
        notice=notice,
        keyring=keyring,
        unencrypted=unencrypted,
    )


def _check_section(
    policy: StorePolicy,
    spec: DriverSpec,
    name: str,
    values: Mapping[str, Any],
    raw: Mapping[str, Any],
    *,
    skip: frozenset[str] = frozenset(),
) -> BaseModel:
    try:
        # The section as written rides along so a model can insist that a secret be
        # given as an env reference rather than typed into a reviewed file.
        return spec.build_config(values, raw)
    except ValidationError as exc:
        prefix = policy._path(f"store.{name}")
        err = validation_message(exc, prefix, model=spec.config_model, section=raw, skip=skip)
        if err is None:
            return spec.config_model.model_construct()
        raise err from None


__all__ = ["DEFAULT_BACKEND", "DEFAULT_SQLITE_PATH", "ResolvedPolicy", "resolve_policy"]
