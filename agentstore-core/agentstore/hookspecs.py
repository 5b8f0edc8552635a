"""The pluggy hooks a driver distribution implements.

A driver is a module named by an entry point in the ``agentstore.drivers`` group. It
implements :func:`register_drivers` with :data:`hookimpl`::

    from agentstore.driver import DriverSpec, hookimpl

    @hookimpl
    def register_drivers(register):
        register(DriverSpec(name="mydriver", config_model=MyConfig,
                            capabilities={"generations", "logs"}, open=open_my_driver))

Importing that module must be cheap: name the open function as a string
(``open="mydriver.stores:open_driver"``) or import the database client inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from agentstore.spec import DriverSpec

PROJECT = "agentstore"
ENTRY_POINT_GROUP = "agentstore.drivers"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- discovery -----------------------------------------------------------------------------


@hookspec
def register_drivers(register: Callable[[DriverSpec], None]) -> None:
    """Register drivers by calling ``register(spec)`` once per driver this plugin provides.

    Args:
        register: records a :class:`~agentstore.registry.DriverSpec`; the registry decides
            how names and clashes are handled, so a plugin never sees other plugins' drivers.
    """


__all__ = [
    "ENTRY_POINT_GROUP",
    "PROJECT",
    "hookimpl",
    "hookspec",
    "register_drivers",
]
