"""The pytest plugin itself, run in fresh pytest processes (pytester).

Inert without the option; with it, the suite is collected from the installed package in
any folder, capabilities the driver lacks are skipped with the reason, the driver's
fresh-store hook runs once per test with its clean-up, and mistakes are usage errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agentstore import default_registry
from agentstore.conformance.plugin import SUITE, ByName, pytest_configure
from agentstore.driver import DriverSpec
from shared_memory_driver import SHARED

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent

TRIVIAL = """
def test_trivial():
    assert True
"""

# A driver with only two capabilities, persistent through the shared-memory helper, whose
# fresh-store hook records each set-up and clean-up in a file.
PARTIAL = """
from pathlib import Path

import shared_memory_driver as shared
from agentstore import default_registry
from agentstore.driver import DriverSpec
from agentstore.conformance import ConformanceSupport, tamper_via_log_store

LOG = Path(__file__).with_name("fresh.log")


def fresh(section, tmp_path):
    assert section == {"key": "from-config"}, section
    key = str(tmp_path)
    with LOG.open("a") as f:
        f.write("up\\n")
    yield {"key": key}
    shared.drop(key)
    with LOG.open("a") as f:
        f.write("down\\n")


SUPPORT = ConformanceSupport(persistent=True, fresh_section=fresh, tamper=tamper_via_log_store)

default_registry().register(
    DriverSpec(
        name="partial",
        open=shared.open_shared,
        config_model=shared.SharedConfig,
        capabilities={"generations", "credentials"},
        conformance="partial_driver:SUPPORT",
    )
)
"""


@pytest.fixture
def here(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_trivial=TRIVIAL)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args)


def test_inert_without_the_option(here: pytest.Pytester) -> None:
    result = run(here, "-q")
    result.assert_outcomes(passed=1)  # nothing but the project's own test
    fixtures = run(here, "--fixtures")
    assert "agentstore_policy" not in fixtures.stdout.str()
    assert "agentstore conformance" not in result.stdout.str()


def test_options_exist_and_default_to_off(pytestconfig: pytest.Config) -> None:
    # This very run loaded the plugin through its entry point, without the option.
    assert pytestconfig.getoption("agentstore_driver") is None
    assert pytestconfig.getoption("agentstore_config") is None
    assert not pytestconfig.pluginmanager.has_plugin("agentstore-by-name")


def test_by_name_runs_the_suite_in_any_folder(here: pytest.Pytester) -> None:
    assert not (here.path / "pyproject.toml").exists()
    result = run(here, "--agentstore-driver", "memory", "-rs")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes["passed"] > 150
    assert "failed" not in outcomes
    assert "errors" not in outcomes
    result.stdout.fnmatch_lines(
        [
            "agentstore conformance: driver 'memory' (agentstore-memory *), capabilities: *",
            "suite.py *",
            "*declares it is not persistent*",
        ]
    )
    assert "test_trivial" not in result.stdout.str()  # the suite alone


def test_by_name_adds_to_explicit_paths(here: pytest.Pytester) -> None:
    result = run(
        here,
        "--agentstore-driver",
        "memory",
        "test_trivial.py",
        "-k",
        "trivial or generation_starts_at_zero",
        "-v",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_trivial PASSED*", "*TestGeneration*starts_at_zero PASSED*"])


def test_suite_is_collected_from_the_package() -> None:
    assert SUITE.name == "suite.py"
    assert SUITE.parent.name == "conformance"
    assert SUITE.is_file()


def test_unknown_driver_is_a_usage_error() -> None:
    with pytest.raises(pytest.UsageError) as info:
        ByName.build("nosuch", None)
    assert "unknown driver 'nosuch'" in str(info.value)
    assert "installed drivers:" in str(info.value)
    assert "memory" in str(info.value)


def test_uninstalled_first_party_driver_names_the_package() -> None:
    if "sqlite" in default_registry().drivers:
        pytest.skip("agentstore-sqlite is installed here")
    with pytest.raises(pytest.UsageError, match="pip install agentstore-sqlite"):
        ByName.build("sqlite", None)


class _Options:
    def __init__(self, **values: str | None) -> None:
        self.values = values

    def getoption(self, name: str) -> str | None:
        return self.values[name]


def test_config_without_driver_is_a_usage_error() -> None:
    options = _Options(agentstore_driver=None, agentstore_config="c.toml")
    with pytest.raises(pytest.UsageError, match="--agentstore-config needs --agentstore-driver"):
        pytest_configure(options)  # type: ignore[arg-type]


def test_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[store\n")
    with pytest.raises(pytest.UsageError, match=r"not valid TOML.*line 1"):
        ByName.build("memory", str(tmp_path / "c.toml"))
    with pytest.raises(pytest.UsageError, match="does not exist"):
        ByName.build("memory", str(tmp_path / "missing.toml"))


def test_persistent_driver_without_a_fresh_store_hook_is_a_usage_error() -> None:
    # Without fresh_section every test would share one store (and leave data behind).
    registry = default_registry()
    registry.register(DriverSpec(name="stateful", open=SHARED.open))
    try:
        with pytest.raises(pytest.UsageError, match="no way to make a fresh store"):
            ByName.build("stateful", None)
    finally:
        registry.unregister("stateful")


def test_driver_needing_settings_without_them_is_a_usage_error() -> None:
    registry = default_registry()
    spec = DriverSpec(
        name="needy",
        open=SHARED.open,
        config_model=SHARED.config_model,
        conformance="agentstore_memory.conformance:SUPPORT",  # not persistent
    )
    registry.register(spec)
    try:
        with pytest.raises(pytest.UsageError, match=r"needs settings.*\[store\.needy\]"):
            ByName.build("needy", None)
    finally:
        registry.unregister("needy")


def test_partial_driver_skips_what_it_lacks_and_gets_fresh_stores(
    here: pytest.Pytester,
) -> None:
    here.makepyfile(
        partial_driver=PARTIAL,
        shared_memory_driver=(HERE / "shared_memory_driver.py").read_text(),
    )
    (here.path / "policy.toml").write_text(
        '[store.partial]\nkey = "from-config"\n\n[store.capabilities]\naudit = "memory"\n'
    )
    result = run(
        here,
        "-p",
        "partial_driver",
        "--agentstore-driver",
        "partial",
        "--agentstore-config",
        "policy.toml",
        "-rs",
        "-v",
    )
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "agentstore conformance: driver 'partial' (registered in-process), "
            "capabilities: credentials, generations",
            "agentstore conformance: not provided, routed elsewhere: audit -> memory, "
            "lifecycle -> memory, logs -> memory, *",
            "*does not declare capability 'logs'*",
            "*does not declare capability 'lifecycle'*",
        ]
    )
    assert "declares it is not persistent" not in result.stdout.str()
    # One fresh store per test that ran (those of missing capabilities skip before), each
    # cleaned up after its test.
    log = (here.path / "fresh.log").read_text().split()
    assert log == ["up", "down"] * outcomes["passed"]
    # Generation and credential tests ran, persistence included; every skip is a
    # capability the driver lacks.
    result.stdout.fnmatch_lines(
        [
            "*::TestGeneration::test_generation_persists_across_reopen PASSED*",
            "*::TestCredentialStore::test_credential_persists_across_reopen PASSED*",
        ]
    )
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert skips
    assert all("does not declare capability" in line for line in skips)
    assert outcomes["skipped"] == sum(int(line.split("[")[1].split("]")[0]) for line in skips)


# A persistent driver whose logs keep no recorded head (WriterLogStore's default verify)
# and offer no tamper hook; "plain" leaves tamper_evident at its default, "honest"
# declares it False.
PLAIN = """
import shared_memory_driver as shared
from agentstore import default_registry
from agentstore.driver import DriverSpec
from agentstore.conformance import ConformanceSupport
from mutant_drivers import PlainLog

LOGS = {}


def open_plain(config, context):
    stores = shared.open_shared(config, context)
    if stores.logs is not None:
        stores.logs = LOGS.setdefault(config.key, PlainLog())
    return stores


SUPPORT = ConformanceSupport(persistent=True, fresh_section=shared.fresh)

for name, evident in (("plain", True), ("honest", False)):
    default_registry().register(
        DriverSpec(
            name=name,
            open=open_plain,
            config_model=shared.SharedConfig,
            conformance="plain_driver:SUPPORT",
            tamper_evident=evident,
        )
    )
"""


@pytest.fixture
def plain(here: pytest.Pytester) -> pytest.Pytester:
    here.makepyfile(
        plain_driver=PLAIN,
        shared_memory_driver=(HERE / "shared_memory_driver.py").read_text(),
        mutant_drivers=(HERE / "mutant_drivers.py").read_text(),
        mutant_rate_limits=(HERE / "mutant_rate_limits.py").read_text(),
    )
    return here


def test_by_name_a_persistent_driver_without_a_tamper_hook_fails(plain: pytest.Pytester) -> None:
    result = run(plain, "-p", "plain_driver", "--agentstore-driver", "plain", "-k", "log_tamper")
    outcomes = result.parseoutcomes()
    assert result.ret == 1, result.stdout.str()
    assert outcomes["failed"] == 11
    assert "skipped" not in outcomes
    assert "passed" not in outcomes
    result.stdout.fnmatch_lines(["*driver 'plain' keeps its data and declares tamper-evident*"])


def test_by_name_a_driver_declaring_no_tamper_evidence_skips_saying_so(
    plain: pytest.Pytester,
) -> None:
    result = run(
        plain,
        *("-p", "plain_driver", "--agentstore-driver", "honest", "-k", "tamper", "-rs"),
        *("-W", "default::DeprecationWarning"),
    )
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    # The log's 11 tamper tests (no hook, and none required), and the audit's truncation
    # test; the audit's other two and the async face's audit tamper test run, on the memory
    # log under it, whose tamper() method the suite still finds without
    # ConformanceSupport.tamper (deprecated: it warns).
    assert (outcomes["skipped"], outcomes["passed"], outcomes["warnings"]) == (12, 3, 3)
    result.stdout.fnmatch_lines(
        ["*DeprecationWarning: driver 'honest': the conformance suite found a tamper() method*"]
    )
    result.stdout.fnmatch_lines(
        [
            "agentstore conformance: driver declares verify() may miss a truncated log "
            "(tamper_evident=False): the truncation tests skip",
            "*driver 'honest'*tamper_evident=False*",
        ]
    )
