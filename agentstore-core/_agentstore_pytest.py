"""agentstore-core's pytest entry point (``pytest11``): the conformance plugin's doorway.

pytest loads this module in every run of every project that installs agentstore-core, so
it imports nothing of agentstore: it adds the ``--agentstore-driver`` and
``--agentstore-config`` options and stops there. Only when ``--agentstore-driver`` is
given does it import :mod:`agentstore.conformance.plugin`, which collects the suite and
provides its fixture. A top-level module, because importing any ``agentstore.*`` module
runs the ``agentstore`` package's ``__init__`` (pydantic, pluggy, the capabilities).
"""

from __future__ import annotations

import pytest

BY_NAME = "agentstore-by-name"
"""The name the by-name run's plugin object is registered under."""


def add_options(parser: pytest.Parser) -> None:
    """Add the two options, once: ``-p agentstore.conformance.plugin`` beside the entry
    point registers these hooks a second time."""
    group = parser.getgroup("agentstore", "agentstore conformance suite")
    try:
        group.addoption(
            "--agentstore-driver",
            metavar="NAME",
            default=None,
            help="run the agentstore conformance suite against the installed driver NAME",
        )
    except ValueError:  # "option names already added": the other registration did it
        return
    group.addoption(
        "--agentstore-config",
        metavar="FILE",
        default=None,
        help="a policy TOML file whose [store.NAME] table configures that driver "
        "(and whose [store.capabilities] routes capabilities it lacks)",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    if getattr(early_config.known_args_namespace, "agentstore_driver", None) is None:
        return
    from agentstore.conformance.plugin import collect_suite

    collect_suite(early_config, args)


def pytest_configure(config: pytest.Config) -> None:
    name: str | None = config.getoption("agentstore_driver")
    config_file: str | None = config.getoption("agentstore_config")
    if name is None:
        if config_file is not None:
            raise pytest.UsageError("--agentstore-config needs --agentstore-driver NAME")
        return
    if config.pluginmanager.has_plugin(BY_NAME):
        return
    from agentstore.conformance.plugin import ByName

    config.pluginmanager.register(ByName.build(name, config_file), BY_NAME)


__all__ = [
    "BY_NAME",
    "add_options",
    "pytest_addoption",
    "pytest_configure",
    "pytest_load_initial_conftests",
]
