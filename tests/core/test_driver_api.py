"""agentstore.driver: the one module a driver author imports; the old paths keep working."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import agentstore
import agentstore.capabilities
import agentstore.driver
import pytest
from agentstore import StorePolicy
from agentstore.driver import ConfigError, DriverSpec
from agentstore.errors import BackendUnavailable, InvalidInput, StoreError
from core_drivers import private_registry

DRIVER_ONLY = [
    "DriverSpec",
    "DriverStores",
    "LogAuditSink",
    "OpenContext",
    "hookimpl",
    "verify_rows",
]


def test_every_name_in_all_is_there_and_public() -> None:
    for name in agentstore.driver.__all__:
        assert not name.startswith("_")
        assert getattr(agentstore.driver, name) is not None
    with pytest.raises(AttributeError):
        _ = agentstore.driver.NoSuchName  # type: ignore[attr-defined]


def test_the_driver_module_imports_neither_pytest_nor_the_suite() -> None:
    code = (
        "import sys, agentstore.driver; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pytest' "
        "or m.startswith('agentstore.conformance')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_conformance_names_load_on_first_use() -> None:
    from agentstore.conformance.support import ConformanceSupport, Section, TamperRefused

    assert agentstore.driver.ConformanceSupport is ConformanceSupport
    assert agentstore.driver.Section is Section
    assert agentstore.driver.TamperRefused is TamperRefused


@pytest.mark.parametrize("name", DRIVER_ONLY)
def test_a_driver_name_on_the_old_path_still_works_and_warns(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"agentstore\.{name}.*agentstore\.driver"):
        found = getattr(agentstore, name)
    assert found is getattr(agentstore.driver, name)


def test_from_import_of_the_old_path_warns_at_the_importing_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from agentstore import DriverSpec as OldSpec
    assert OldSpec is DriverSpec
    assert [w.category for w in caught] == [DeprecationWarning]
    assert caught[0].filename == __file__


def test_the_user_api_lists_no_driver_name_and_star_import_is_silent() -> None:
    assert not set(DRIVER_ONLY) & set(agentstore.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec("from agentstore import *", {})


def test_moved_names_stay_importable_from_capabilities() -> None:
    from agentstore import audit, checks, handles, translate

    caps = agentstore.capabilities
    assert caps.LogAuditSink is audit.LogAuditSink
    assert caps.AUDIT_STREAM == audit.AUDIT_STREAM == "agentstore:audit"
    assert caps.Generation is handles.Generation
    assert caps.WriterLog is handles.WriterLog
    assert caps.check_name is checks.check_name
    assert caps.MAX_INT == checks.MAX_INT
    assert caps.driver_call is translate.DriverCall
    with pytest.raises(AttributeError):
        _ = caps.NoSuchName  # type: ignore[attr-defined]


def test_driver_call_still_translates_under_its_old_name() -> None:
    with pytest.raises(StoreError, match="op failed in the driver") as info:  # noqa: SIM117
        with agentstore.capabilities.driver_call("op"):
            raise OSError("password=hunter2")
    assert "hunter2" not in str(info.value)


def test_open_named_by_a_string_is_imported_on_first_open() -> None:
    module = "core_lazy_open_target"
    assert module not in sys.modules
    spec = DriverSpec(name="lazy", open=f"{module}:open_driver", capabilities={"generations"})
    assert module not in sys.modules  # declaring it imports nothing
    registry = private_registry(spec)
    policy = StorePolicy("memory", capabilities={"generations": "lazy"})
    with agentstore.open(policy, registry=registry) as store:
        assert store.generation("g").bump() == 1
    assert module in sys.modules


@pytest.mark.parametrize("target", ["no_colon", ":fn", "module:", ""])
def test_a_malformed_open_string_is_refused_at_declaration(target: str) -> None:
    with pytest.raises(ConfigError, match=r"package\.module:function"):
        DriverSpec(name="bad", open=target)


def test_an_open_that_is_neither_callable_nor_a_string_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a callable"):
        DriverSpec(name="bad", open=42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("no_such_module_anywhere:open", "cannot be loaded: ModuleNotFoundError"),
        ("core_lazy_open_target:missing", "cannot be loaded: AttributeError"),
        ("core_lazy_open_target:NOT_CALLABLE", "is a int, not a function"),
    ],
)
def test_an_open_string_that_cannot_be_loaded_fails_the_open_clearly(target: str, why: str) -> None:
    registry = private_registry(DriverSpec(name="lazy", open=target))
    policy = StorePolicy("lazy")
    with pytest.raises(ConfigError, match=f"driver 'lazy' names open=.*{why}"):
        agentstore.open(policy, registry=registry)


def test_store_capability_reaches_the_driver_object() -> None:
    from agentstore_memory.stores import MemoryLogStore

    with agentstore.open(StorePolicy("memory")) as store:
        logs = store.capability("logs")
        assert isinstance(logs, MemoryLogStore)
        with pytest.raises(InvalidInput, match="unknown capability 'logz'"):
            store.capability("logz")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="closed"):
        store.capability("logs")


def test_errors_reexported_are_the_same_classes() -> None:
    assert agentstore.driver.BackendUnavailable is BackendUnavailable
    assert agentstore.driver.StoreError is agentstore.StoreError
    assert Path(agentstore.driver.__file__).name == "driver.py"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("memory", "agentstore_memory.stores"),
        ("sqlite", "agentstore_sqlite.driver"),
        ("postgres", "agentstore_postgres.driver"),
    ],
)
def test_first_party_plugins_name_their_open_function_open_driver(name: str, module: str) -> None:
    spec = agentstore.Registry().get(name)
    assert spec.open == f"{module}:open_driver"
    assert spec.opener is sys.modules[module].open_driver


def test_the_sqlite_open_function_keeps_its_old_name() -> None:
    from agentstore_sqlite import driver

    assert driver.open_stores is driver.open_driver
