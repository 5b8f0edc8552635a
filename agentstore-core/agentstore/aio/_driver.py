"""The seam between the async face and a driver (private and provisional).

A later issue will make a public driver-author API of this; until then it lives here, in
one module, and may change.

How the async face serves a driver's capabilities:

- **Bridged** (the default, any synchronous driver): the driver opens as it does for
  :func:`agentstore.open`, and every call of its stores runs on the async store's own
  threads (:class:`~agentstore.aio._threads.Offload`), never on the event loop. A
  third-party synchronous driver needs nothing more.
- **Native**: a driver whose ``DriverSpec`` names ``aio="package.module:function"`` (a
  string, so discovery imports nothing; an ``agentstore_aio`` attribute of the same form
  on its ``open`` callable works too) is opened through that function instead::

      async def open_native(stores: DriverStores, kit: NativeKit) -> AsyncDriverStores

  It receives the driver's synchronous stores, already opened, and the kit (the store's
  threads, doorbell and clock), and returns the async capability objects it serves
  natively; a capability left ``None`` is bridged. A native object must keep the whole
  contract of the synchronous one (same names, arguments, results and errors), must
  ring the doorbell for every committed append exactly as the synchronous ``WriterLog``
  does (even when the awaiting task is cancelled after the commit), and must not block
  the loop: batch hashing and chain verification go to ``kit.offload``.

  :func:`inline` is the native kit of a driver whose calls are in memory and quick (the
  ``memory`` driver): its calls run directly on the loop, and ``verify`` and large
  batches on the store's threads.

- **The commit feed** (``store.feed``, ``position``, ``follow``, ``stream`` and
  ``log.append(..., expect_head=)``, ``log.redact``): a native ``logs`` object that has
  every method of :class:`agentstore.aio.feed.AsyncFeedStore` (``append_if``,
  ``redact``, ``feed_page``, ``position``, ``stream_page``) serves them natively; one
  lacking any of them has them bridged to the synchronous store's hooks on the store's
  threads, so a native driver keeps working before it implements them.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentstore.aio._threads import Offload
from agentstore.capabilities import Clock
from agentstore.doorbell import Doorbell
from agentstore.errors import ConfigError
from agentstore.registry import DriverSpec, DriverStores

NATIVE_ATTRIBUTE = "agentstore_aio"


@dataclass(frozen=True)
class NativeKit:
    """What a native opener gets from the async store."""

    offload: Offload
    doorbell: Doorbell
    clock: Clock


@dataclass
class AsyncDriverStores:
    """The async capability objects a native driver serves (``None``: bridged).

    Types are those of :mod:`agentstore.aio.handles` (``AsyncGenerationStore``,
    ``AsyncLogStore``) and :mod:`agentstore.aio.governance` (``AsyncPolicyStore``, ...).
    ``aclose`` releases what the native objects hold (the synchronous stores are closed
    by the async store afterwards).
    """

    generations: object | None = None
    logs: object | None = None
    policies: object | None = None
    audit: object | None = None
    sessions: object | None = None
    credentials: object | None = None
    rate_limits: object | None = None
    lifecycle: object | None = None
    aclose: Callable[[], Awaitable[None]] | None = None


NativeOpener = Callable[[DriverStores, NativeKit], Awaitable[AsyncDriverStores]]


def native_opener(spec: DriverSpec) -> NativeOpener | None:
    """The native opener a driver declares, or None to bridge it.

    Raises:
        ConfigError: the declared opener cannot be imported or is not callable.
    """
    target = spec.aio or getattr(spec.open, NATIVE_ATTRIBUTE, None)
    if target is None:
        return None
    module_name, _, attr = str(target).partition(":")
    try:
        found: object = importlib.import_module(module_name)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"driver {spec.name!r} names async support {target!r}, which cannot be "
            f"loaded: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(found):
        raise ConfigError(f"driver {spec.name!r} names async support {target!r}: not callable")
    opener: NativeOpener = found
    return opener


__all__ = ["NATIVE_ATTRIBUTE", "AsyncDriverStores", "NativeKit", "NativeOpener", "native_opener"]
