"""The pytest plugin: ``pytest --agentstore-driver NAME``.

The ``pytest11`` entry point is the top-level shim ``_agentstore_pytest``: it adds the two
options in every pytest run and imports this module only when ``--agentstore-driver`` is
given, so an application's own test run imports nothing of agentstore. This module then
adds the suite module (:mod:`agentstore.conformance.suite`) to the paths pytest collects,
from wherever the package is installed, and provides the ``agentstore_policy`` fixture
for it. Loading it by hand (``-p agentstore.conformance.plugin``, e.g. with plugin
autoload disabled) works too: it carries the shim's hooks, which run once either way.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from _agentstore_pytest import pytest_addoption, pytest_configure, pytest_load_initial_conftests

from agentstore.capabilities import CAPABILITIES
from agentstore.conformance.contracts import capability_of
from agentstore.conformance.support import ConformanceSupport, load_support
from agentstore.errors import StoreError
from agentstore.policy import StorePolicy
from agentstore.registry import default_registry
from agentstore.spec import DriverSpec

SUITE = Path(__file__).with_name("suite.py")
"""The module the by-name run collects."""

FALLBACK_DRIVER = "memory"
"""Where the by-name run routes capabilities the driver under test does not provide."""


def collect_suite(early_config: pytest.Config, args: list[str]) -> None:
    """Add the suite's folder to what pytest collects (the option was given)."""
    # Collect the suite from the installed package, whatever folder pytest runs in. An
    # explicit path means pytest ignores `testpaths`: the by-name run is the suite alone,
    # plus any paths the user named. The folder, not the file, is named so that node ids
    # read `suite.py::TestGeneration::...`; ByName.pytest_collect_file picks the module.
    folder = str(SUITE.parent)
    if folder in args:  # the entry point and `-p agentstore.conformance.plugin` both ran
        return
    namespace = early_config.known_args_namespace
    args.append(folder)
    namespace.file_or_dir = [*namespace.file_or_dir, folder]


class ByName:
    """The by-name run's fixture and report header, registered only with the option."""

    def __init__(
        self,
        spec: DriverSpec,
        support: ConformanceSupport,
        sections: Mapping[str, Mapping[str, Any]],
        routes: Mapping[str, str],
        source: str | None,
    ) -> None:
        self.spec = spec
        self.support = support
        self.sections = sections
        self.routes = routes
        self.source = source

    @classmethod
    def build(cls, name: str, config_file: str | None) -> ByName:
        """Resolve the driver and its settings, or raise a UsageError that says what to do."""
        registry = default_registry()
        try:
            drivers = registry.drivers
            for broken in registry.broken:
                if broken.name == name:
                    raise pytest.UsageError(
                        f"the agentstore driver plugin {name!r} ({broken.distribution}) "
                        f"failed to load: {broken.error}"
                    )
            spec = registry.get(name)
            support = load_support(spec)
            base = StorePolicy.load(config_file) if config_file else None
        except StoreError as exc:
            raise pytest.UsageError(f"--agentstore-driver {name}: {exc}") from None
        sections = {k: dict(v) for k, v in (base.sections if base else {}).items()}
        overrides = dict(base.capabilities) if base else {}
        routes: dict[str, str] = {}
        for cap in CAPABILITIES:
            if cap in spec.capabilities:
                continue  # the driver under test serves everything it declares
            target = overrides.get(cap)
            if target is None:
                fallback = drivers.get(FALLBACK_DRIVER)
                if fallback is None or cap not in fallback.capabilities:
                    raise pytest.UsageError(
                        f"driver {name!r} does not provide {cap!r}, and the conformance run "
                        f"routes such capabilities to {FALLBACK_DRIVER!r}, which is not "
                        "installed: install agentstore-memory, or route them under "
                        "[store.capabilities] in the file given to --agentstore-config"
                    )
                target = FALLBACK_DRIVER
            routes[cap] = target
        if support.persistent and support.fresh_section is None:
            # Every test would share (and leave data in) the one store the section names.
            raise pytest.UsageError(
                f"driver {name!r} keeps its data but declares no way to make a fresh store "
                "for each test: give its DriverSpec conformance= a ConformanceSupport with "
                "fresh_section (or persistent=False); see the agentstore.conformance docs"
            )
        if name not in sections and spec.needs_section and support.fresh_section is None:
            raise pytest.UsageError(
                f"driver {name!r} needs settings: pass --agentstore-config FILE holding a "
                f"[store.{name}] table"
            )
        source = str(Path(config_file).resolve()) if config_file else None
        return cls(spec, support, sections, routes, source)

    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> pytest.Module | None:
        if file_path != SUITE:
            return None
        patterns: list[str] = parent.config.getini("python_files")
        if any(fnmatch.fnmatch(SUITE.name, p) for p in patterns):
            return None  # pytest collects it already
        return pytest.Module.from_parent(parent, path=file_path)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Skip, at collection, the suite's tests of capabilities the driver lacks, so no
        # fresh store is made for them (the contract's own check covers subclasses).
        for item in items:
            cls = getattr(item, "cls", None)
            if item.path != SUITE or cls is None:
                continue
            cap = capability_of(cls, getattr(item, "originalname", item.name))
            if cap is not None and cap not in self.spec.capabilities:
                reason = f"driver {self.spec.name!r} does not declare capability {cap!r}"
                item.add_marker(pytest.mark.skip(reason=reason))

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        origin = self.spec.distribution or "registered in-process"
        version = f" {self.spec.version}" if self.spec.version else ""
        lines = [
            f"agentstore conformance: driver {self.spec.name!r} ({origin}{version}), "
            f"capabilities: {', '.join(sorted(self.spec.capabilities)) or 'none'}"
        ]
        if self.routes:
            routed = ", ".join(f"{cap} -> {d}" for cap, d in sorted(self.routes.items()))
            lines.append(f"agentstore conformance: not provided, routed elsewhere: {routed}")
        if not self.support.persistent:
            lines.append("agentstore conformance: driver declares it is not persistent")
        if not self.spec.tamper_evident:
            lines.append(
                "agentstore conformance: driver declares verify() may miss a truncated log "
                "(tamper_evident=False): the truncation tests skip"
            )
        if not self.spec.cross_process:
            lines.append(
                "agentstore conformance: driver does not declare cross_process: "
                "the multi-process tests skip"
            )
        return lines

    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> Iterator[StorePolicy]:
        """A policy for a fresh, empty store of the driver named by --agentstore-driver."""
        name = self.spec.name
        sections = {k: dict(v) for k, v in self.sections.items()}
        section: Mapping[str, Any] = sections.get(name, {})
        teardown: Iterator[Mapping[str, Any]] | None = None
        if self.support.fresh_section is not None:
            made = self.support.fresh_section(dict(section), tmp_path)
            if isinstance(made, Mapping):
                section = made
            else:
                teardown = made
                section = next(made)
        if section or self.spec.needs_section:
            sections[name] = dict(section)
        else:
            sections.pop(name, None)
        try:
            yield StorePolicy(name, capabilities=self.routes, sections=sections, source=self.source)
        finally:
            if teardown is not None:
                for _ in teardown:
                    raise RuntimeError(f"{name}: fresh_section must yield exactly once")


__all__ = [
    "FALLBACK_DRIVER",
    "SUITE",
    "ByName",
    "collect_suite",
    "pytest_addoption",
    "pytest_configure",
    "pytest_load_initial_conftests",
]
