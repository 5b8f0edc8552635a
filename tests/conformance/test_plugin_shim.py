"""The pytest11 entry point is a shim: an application's own pytest run, which loads it
because agentstore-core is installed, imports nothing of agentstore; the whole plugin is
imported only with ``--agentstore-driver``, and loading it by hand beside the shim works.
"""

from __future__ import annotations

import importlib.metadata
import json

import pytest

pytest_plugins = ["pytester"]

# Writes every imported module's name when the session ends, and which plugins pytest holds.
DUMP_MODULES = """
import json, sys

def pytest_sessionfinish(session):
    names = sorted(sys.modules)
    plugins = sorted(n for n, _ in session.config.pluginmanager.list_name_plugin() if n)
    with open("modules.json", "w") as f:
        json.dump({"modules": names, "plugins": plugins}, f)
"""

TRIVIAL = """
def test_trivial():
    assert True
"""


@pytest.fixture
def app(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(DUMP_MODULES)
    pytester.makepyfile(test_app=TRIVIAL)
    return pytester


def _dump(pytester: pytest.Pytester) -> dict[str, list[str]]:
    loaded: dict[str, list[str]] = json.loads((pytester.path / "modules.json").read_text())
    return loaded


def _ours(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] == "agentstore" or m.startswith("agentstore_")]


def test_the_entry_point_names_the_shim() -> None:
    (ep,) = [
        ep
        for ep in importlib.metadata.distribution("agentstore-core").entry_points
        if ep.group == "pytest11"
    ]
    assert (ep.name, ep.value) == ("agentstore", "_agentstore_pytest")


def test_an_application_run_imports_nothing_of_agentstore(app: pytest.Pytester) -> None:
    result = app.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-q")
    result.assert_outcomes(passed=1)
    dump = _dump(app)
    assert "agentstore" in dump["plugins"]  # the entry point did load: this run saw it
    assert "_agentstore_pytest" in dump["modules"]
    assert _ours(dump["modules"]) == []
    assert "pydantic" not in dump["modules"]
    # and the options are there, for `--help` and for the by-name run
    helped = app.runpytest_subprocess("-p", "no:cacheprovider", "--help")
    helped.stdout.fnmatch_lines(["*--agentstore-driver=NAME*", "*--agentstore-config=FILE*"])
    assert _ours(_dump(app)["modules"]) == []


def test_the_option_imports_the_plugin_and_runs_the_suite(app: pytest.Pytester) -> None:
    # test_app.py named too, so this folder's conftest (the dump) loads beside the suite
    result = app.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-q",
        "--agentstore-driver",
        "memory",
        "test_app.py",
        "-k",
        "TestGeneration or trivial",
    )
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes()["passed"] >= 6
    modules = _dump(app)["modules"]
    assert "agentstore.conformance.plugin" in modules
    assert "agentstore_memory" in modules


def test_config_without_driver_is_a_usage_error_before_any_import(app: pytest.Pytester) -> None:
    result = app.runpytest_subprocess("-p", "no:cacheprovider", "--agentstore-config", "x.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--agentstore-config needs --agentstore-driver NAME*"])


@pytest.mark.parametrize("autoload", [True, False])
def test_loading_the_plugin_by_hand_works_beside_the_shim(
    app: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, autoload: bool
) -> None:
    if not autoload:  # then `-p` is the only way the plugin arrives
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plain = app.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "agentstore.conformance.plugin"
    )
    plain.assert_outcomes(passed=1)
    by_name = app.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "agentstore.conformance.plugin",
        "--agentstore-driver",
        "memory",
        "-k",
        "TestGeneration and starts_at_zero",
        "-v",
    )
    by_name.assert_outcomes(passed=1)  # the suite collected once, not twice
    by_name.stdout.fnmatch_lines(["agentstore conformance: driver 'memory'*"])
