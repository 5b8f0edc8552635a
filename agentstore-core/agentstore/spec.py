"""What a driver declares: its :class:`DriverSpec`, what its open function receives
(:class:`OpenContext`) and what it returns (:class:`DriverStores`)."""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from pydantic import BaseModel, ConfigDict

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
from agentstore.errors import ConfigError


def load_dotted(target: str, what: str) -> object:
    """The object ``"package.module:attribute"`` names (``attribute`` may be dotted).

    Raises:
        ConfigError: ``what`` followed by why it cannot be loaded.
    """
    module_name, _, attr = target.partition(":")
    try:
        found: object = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what} cannot be loaded: {type(exc).__name__}: {exc}") from exc
    return found


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
"""``open(config, context) -> DriverStores``: what a driver's open function is."""

_DRIVER_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class DriverSpec:
    """A driver as a plugin registers it.

    Attributes:
        name: what a policy writes (``backend = "sqlite"``): lowercase ASCII letters,
            digits, ``-`` and ``_``, starting with a letter or digit.
        open: ``open(config, context) -> DriverStores``, or ``"package.module:function"``
            naming it, imported on the first open, so the plugin module that registers the
            driver imports nothing heavy. A callable imports its client library lazily.
        capabilities: the capabilities the driver provides.
        config_model: the pydantic model of its ``[store.<name>]`` section; a model whose
            fields all have defaults makes the section optional. It is validated with
            ``context={"section": <the section as written>}``, env references unresolved,
            so a validator can refuse a secret written inline. A secret an application
            gave in code (``StorePolicy.from_dict``) is a pydantic ``SecretStr`` there: by
            reference too, never typed into a reviewed file.
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
        persistent: what the driver stores outlives the process (a file, a server). The
            memory driver declares False; ``agentstore validate`` warns that credentials
            are stored unencrypted only on a persistent driver.
        aio: optional ``"package.module:function"`` naming the driver's native support
            for :mod:`agentstore.aio` (provisional; see ``agentstore.aio._driver``). Without
            it, the async face runs the driver's calls on threads the async store owns.
    """

    name: str
    open: Opener | str
    capabilities: frozenset[CapabilityName] = frozenset(CAPABILITIES)
    config_model: type[BaseModel] = NoConfig
    description: str = ""
    conformance: str | None = None
    distribution: str | None = None
    version: str | None = None
    tamper_evident: bool = True
    cross_process: bool = False
    aio: str | None = None
    persistent: bool = True

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
        if isinstance(self.open, str):
            module, _, attr = self.open.partition(":")
            if not module or not attr:
                raise ConfigError(
                    f"driver {self.name!r}: open={self.open!r} must name a function as "
                    "'package.module:function'"
                )
        elif not callable(self.open):
            raise ConfigError(
                f"driver {self.name!r}: open must be a callable or 'package.module:function', "
                f"not {type(self.open).__name__}"
            )
        if self.aio is not None and (
            not isinstance(self.aio, str) or ":" not in self.aio or self.aio.startswith(":")
        ):
            raise ConfigError(
                f"driver {self.name!r}: aio={self.aio!r} must name a function as "
                "'package.module:function'"
            )
        for flag in ("tamper_evident", "cross_process", "persistent"):
            if type(getattr(self, flag)) is not bool:
                raise ConfigError(
                    f"driver {self.name!r}: {flag} must be True or False, "
                    f"not {type(getattr(self, flag)).__name__}"
                )
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))

    @property
    def opener(self) -> Opener:
        """The open function, imported first if ``open`` names it.

        Raises:
            ConfigError: the named module or function cannot be loaded, or is not callable.
        """
        target = self.open
        if not isinstance(target, str):
            return target
        found = load_dotted(target, f"driver {self.name!r} names open={target!r}, which")
        if not callable(found):
            raise ConfigError(
                f"driver {self.name!r} names open={target!r}, which is a "
                f"{type(found).__name__}, not a function"
            )
        return cast(Opener, found)

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


__all__ = ["DriverSpec", "DriverStores", "NoConfig", "OpenContext", "Opener", "load_dotted"]
