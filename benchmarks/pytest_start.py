"""pytest start: an application's own test run, with and without agentstore-core installed.

agentstore-core's ``pytest11`` entry point loads into every pytest run of every project that
installs it. The shim it names imports nothing of agentstore unless ``--agentstore-driver``
is given; this scenario shows what that costs next to a run with the plugin blocked.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.coldstart import StartRunner
from benchmarks.common import Settings
from benchmarks.harness import Contender, Runner, Scenario

TEST_FILE = "def test_nothing():\n    pass\n"
PYTEST = "import sys, pytest; sys.exit(pytest.main([{args}'-q', '-p', 'no:cacheprovider']))"


def _code(*args: str) -> str:
    return PYTEST.format(args="".join(f"{a!r}, " for a in args))


def scenarios(settings: Settings) -> list[Scenario]:
    starts = settings.n(4, 2)
    cwd = settings.path("pytest-start")
    (cwd / "test_app.py").write_text(TEST_FILE)

    def start(*args: str) -> Runner:
        return StartRunner(_code(*args), starts, Path(cwd))

    return [
        Scenario(
            key="pytest-start",
            title="pytest start: an application's one-test run, agentstore-core installed",
            unit="starts",
            show_rate=False,
            note=(
                f"Wall time of a fresh `pytest -q` running one empty test, {starts} starts per "
                "sample. The floor blocks agentstore's entry point (`-p no:agentstore`); the "
                "agentstore row is what every application installing agentstore-core pays "
                "(the entry-point shim adds two options, imports nothing of agentstore); the "
                "last row loads the whole conformance plugin, as the entry point did before."
            ),
            contenders=[
                Contender(
                    "pytest, agentstore plugin blocked (floor)",
                    "floor",
                    "n/a",
                    lambda: start("-p", "no:agentstore"),
                ),
                Contender("pytest, agentstore-core installed", "agentstore", "n/a", start),
                Contender(
                    "pytest, whole conformance plugin loaded (-p agentstore.conformance.plugin)",
                    "part",
                    "n/a",
                    lambda: start("-p", "no:agentstore", "-p", "agentstore.conformance.plugin"),
                ),
            ],
        )
    ]


__all__ = ["scenarios"]
