"""Registry: in-process registration, entry points (broken, duplicated), cheap discovery."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import agentstore
import pytest
from agentstore import DuplicateDriver, Registry, UnknownDriver
from agentstore.driver import DriverSpec, hookimpl
from core_drivers import Recorder, private_registry, recording_spec


def test_register_and_unregister_a_spec() -> None:
    registry = private_registry(memory=False)
    assert dict(registry.drivers) == {}
    spec = recording_spec("mine", Recorder())
    registry.register(spec)
    assert registry.get("mine") is spec
    assert list(registry.drivers) == ["mine"]
    registry.unregister("mine")
    assert "mine" not in registry.drivers
    with pytest.raises(UnknownDriver):
        registry.get("mine")


def test_register_and_unregister_a_plugin() -> None:
    registry = private_registry(memory=False)

    class Plugin:
        @hookimpl
        def register_drivers(self, register: Callable[[DriverSpec], None]) -> None:
            register(recording_spec("one", Recorder()))
            register(recording_spec("two", Recorder()))

    plugin = Plugin()
    registry.register_plugin(plugin)
    assert sorted(registry.drivers) == ["one", "two"]
    registry.unregister_plugin(plugin)
    assert sorted(registry.drivers) == []


def test_drivers_is_a_read_only_view() -> None:
    registry = private_registry()
    with pytest.raises(TypeError):
        registry.drivers["x"] = registry.get("memory")  # type: ignore[index]


def test_duplicate_in_process_name_is_refused_and_leaves_the_registry_usable() -> None:
    registry = private_registry()
    first = recording_spec("dup", Recorder())
    registry.register(first)
    with pytest.raises(DuplicateDriver) as info:
        registry.register(recording_spec("dup", Recorder()))
    assert "'dup'" in str(info.value)
    # The refused spec is not kept: the registry still works and still has the first.
    assert registry.get("dup") is first
    assert sorted(registry.drivers) == ["dup", "memory"]


def test_duplicate_names_both_distributions() -> None:
    registry = private_registry(memory=False)
    spec = recording_spec("dup", Recorder())

    class PluginA:
        @hookimpl
        def register_drivers(self, register: Callable[[DriverSpec], None]) -> None:
            register(DriverSpec(name="dup", open=spec.open, distribution="dist-a", version="1.0"))

    class PluginB:
        @hookimpl
        def register_drivers(self, register: Callable[[DriverSpec], None]) -> None:
            register(DriverSpec(name="dup", open=spec.open, distribution="dist-b", version="2.0"))

    registry.register_plugin(PluginA())
    with pytest.raises(DuplicateDriver) as info:
        registry.register_plugin(PluginB())
        registry.get("dup")
    assert "dist-a 1.0" in str(info.value)
    assert "dist-b 2.0" in str(info.value)
    # The clashing plugin was not kept: the first one still answers.
    assert registry.get("dup").distribution == "dist-a"


def test_invalid_driver_names_are_refused() -> None:
    spec = recording_spec("ok", Recorder())
    for bad in ["", "has space", "dot.ted", "slash/y", "Upper", "-lead", "_lead", "é", "x²", "a\n"]:
        with pytest.raises(agentstore.ConfigError, match="invalid driver name"):
            DriverSpec(name=bad, open=spec.open)
    for good in ["a", "0", "my-driver_2", "redis"]:
        assert DriverSpec(name=good, open=spec.open).name == good


def test_declarations_default_to_the_contract_and_must_be_booleans() -> None:
    spec = recording_spec("ok", Recorder())
    plain = DriverSpec(name="plain", open=spec.open)
    # Tamper evidence is part of the log contract; sharing between processes is a promise
    # a driver makes only by saying so.
    assert (plain.tamper_evident, plain.cross_process) == (True, False)
    for field in ("tamper_evident", "cross_process"):
        for bad in [1, "yes", None]:
            with pytest.raises(agentstore.ConfigError, match=f"{field} must be True or False"):
                DriverSpec(name="x", open=spec.open, **{field: bad})  # type: ignore[arg-type]


def test_installed_first_party_memory_is_discovered() -> None:
    spec = Registry().get("memory")
    assert spec.distribution == "agentstore-memory"
    assert spec.version == importlib.metadata.version("agentstore-memory")
    assert spec.capabilities == frozenset(agentstore.CAPABILITIES)


# -- entry points, through real (fake) installed distributions ------------------------------


def _install(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[agentstore.drivers]\n{lines}")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


def _driver_module(driver: str) -> str:
    return f"""
        from agentstore.driver import DriverSpec, DriverStores, hookimpl

        @hookimpl
        def register_drivers(register):
            register(DriverSpec(name={driver!r}, open=lambda c, ctx: DriverStores()))
    """


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path that fake distributions are installed into."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_broken_entry_point_is_listed_not_fatal(site: Path) -> None:
    _install(
        site,
        "agentstore-broken",
        {"broken": "as_broken_plugin"},
        {"as_broken_plugin": "raise ImportError('No module named fancydb_client')\n"},
    )
    registry = Registry()
    assert "memory" in registry.drivers
    assert "broken" not in registry.drivers
    (broken,) = registry.broken
    assert broken.name == "broken"
    assert broken.distribution == "agentstore-broken"
    assert "ImportError" in broken.error
    assert "fancydb_client" in broken.error


def test_a_policy_naming_a_broken_driver_says_it_failed_to_load(site: Path) -> None:
    _install(
        site,
        "agentstore-broken",
        {"broken": "as_broken_plugin"},
        {"as_broken_plugin": "raise ImportError('No module named fancydb_client')\n"},
    )
    with pytest.raises(UnknownDriver) as info:
        agentstore.StorePolicy("broken").resolve(Registry())
    assert str(info.value) == (
        "store.backend: driver 'broken' is installed (agentstore-broken) but failed to load: "
        "ImportError: No module named fancydb_client; repair or reinstall agentstore-broken "
        "(`agentstore drivers` lists what loaded)"
    )


def test_entry_point_driver_records_its_distribution(site: Path) -> None:
    _install(
        site,
        "agentstore-extra",
        {"extra": "as_extra_plugin"},
        {"as_extra_plugin": _driver_module("extra")},
    )
    spec = Registry().get("extra")
    assert (spec.distribution, spec.version) == ("agentstore-extra", "1.0")


def test_two_distributions_claiming_one_name(site: Path) -> None:
    _install(
        site,
        "agentstore-dupa",
        {"dupe_a": "as_dupa_plugin"},
        {"as_dupa_plugin": _driver_module("dupe")},
    )
    _install(
        site,
        "agentstore-dupb",
        {"dupe_b": "as_dupb_plugin"},
        {"as_dupb_plugin": _driver_module("dupe")},
    )
    with pytest.raises(DuplicateDriver) as info:
        Registry().get("dupe")
    assert "agentstore-dupa 1.0" in str(info.value)
    assert "agentstore-dupb 1.0" in str(info.value)


def test_two_distributions_with_the_same_entry_point_name(site: Path) -> None:
    # The natural spelling: both name their entry point after the driver.
    _install(
        site,
        "agentstore-twina",
        {"twin": "as_twina_plugin"},
        {"as_twina_plugin": _driver_module("twin")},
    )
    _install(
        site,
        "agentstore-twinb",
        {"twin": "as_twinb_plugin"},
        {"as_twinb_plugin": _driver_module("twin")},
    )
    with pytest.raises(DuplicateDriver) as info:
        Registry().get("twin")
    assert "agentstore-twina" in str(info.value)
    assert "agentstore-twinb" in str(info.value)


@pytest.mark.parametrize("broken_first", [False, True])
def test_a_broken_twin_does_not_hide_the_good_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken_first: bool
) -> None:
    # Two distributions use the entry point name "twin"; only one of them imports.
    good, bad = tmp_path / "good", tmp_path / "bad"
    _install(
        good,
        "agentstore-twingood",
        {"twin": "as_twingood"},
        {"as_twingood": _driver_module("twin")},
    )
    _install(
        bad,
        "agentstore-twinbad",
        {"twin": "as_twinbad"},
        {"as_twinbad": "raise ImportError('No module named twin_client')\n"},
    )
    for folder in (good, bad) if broken_first else (bad, good):
        monkeypatch.syspath_prepend(str(folder))  # the last prepended is seen first
    registry = Registry()
    spec = registry.get("twin")
    assert (spec.distribution, spec.version) == ("agentstore-twingood", "1.0")
    assert [(b.name, b.distribution) for b in registry.broken] == [("twin", "agentstore-twinbad")]
    assert "twin_client" in registry.broken[0].error


# -- discovery is cheap ---------------------------------------------------------------------

PROBE = """
import sys
import agentstore
registry = agentstore.default_registry()
names = sorted(registry.drivers)
assert "memory" in names, names
loaded = sorted(m for m in ("psycopg", "psycopg_pool", "sqlite3", "_sqlite3") if m in sys.modules)
assert not loaded, f"discovery imported {loaded}"
with agentstore.open(agentstore.StorePolicy("memory")) as store:
    store.log("s", writer="w").append(b"x")
loaded = sorted(m for m in ("psycopg", "sqlite3") if m in sys.modules)
assert not loaded, f"opening memory imported {loaded}"
print("ok", names)
"""


def test_discovery_imports_no_database_client() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")
