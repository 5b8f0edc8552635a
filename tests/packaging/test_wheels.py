"""Packaging, as a user meets it: wheels that pass ``twine check``, and an environment
holding only agentstore-core and agentstore-sqlite where the CLI and the demo work, only
sqlite is listed, no PostgreSQL client is installed, and a postgres policy fails with
the ``pip install`` that fixes it. Then a third-party driver wheel is added and shows up,
and the tiny example driver, installed from its wheel beside agentstore-core alone, passes
the conformance suite by name there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = {
    "agentstore-core": "agentstore_core",
    "agentstore-memory": "agentstore_memory",
    "agentstore-sqlite": "agentstore_sqlite",
    "agentstore-postgres": "agentstore_postgres",
    "agentstore-redis": "agentstore_redis",
    "agentstore-tiny": "agentstore_tiny",
}


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("uv is not on PATH; CI requires the packaging check")
        pytest.skip("uv is not on PATH")
    return found


def _env() -> dict[str, str]:
    """The environment of a user's shell: no workspace venv, no policy found by accident."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env.pop("AGENTSTORE_CONFIG", None)
    env.pop("PYTHONPATH", None)
    return env


def _run(
    args: Sequence[str | Path], *, cwd: Path, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One wheel per distribution, built without workspace sources as a release would be."""
    out = tmp_path_factory.mktemp("dist")
    _run(
        [_uv(), "build", "--all-packages", "--wheel", "--no-sources", "--out-dir", out],
        cwd=ROOT,
    )
    found = {}
    for dist, stem in DISTRIBUTIONS.items():
        matches = sorted(out.glob(f"{stem}-*.whl"))
        assert len(matches) == 1, f"no single wheel for {dist}: {sorted(out.iterdir())}"
        found[dist] = matches[0]
    return found


@pytest.fixture(scope="module")
def user_env(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding agentstore-core and agentstore-sqlite (and what they need)."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    uv = _uv()
    _run([uv, "venv", "--python", sys.executable, venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            python,
            wheels["agentstore-core"],
            wheels["agentstore-sqlite"],
        ],
        cwd=venv.parent,
    )
    return venv


def test_wheel_metadata_passes_twine_check(wheels: dict[str, Path]) -> None:
    result = _run([sys.executable, "-m", "twine", "check", "--strict", *wheels.values()], cwd=ROOT)
    assert result.stdout.count("PASSED") == len(DISTRIBUTIONS), result.stdout


def test_each_wheel_declares_only_its_own_dependencies(wheels: dict[str, Path]) -> None:
    import zipfile

    def requires(dist: str, extra: str | None = None) -> list[str]:
        """The requirements of ``dist`` (of its ``extra`` only, when one is named)."""
        with zipfile.ZipFile(wheels[dist]) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            text = zf.read(meta).decode()
        found = []
        for line in text.splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            req, _, marker = line.split(":", 1)[1].partition(";")
            if (extra is None) != ("extra ==" not in marker):
                continue
            if extra is not None and not {f"'{extra}'", f'"{extra}"'} & set(marker.split()):
                continue
            found.append(req.strip().split(">")[0].split("[")[0].strip())
        return sorted(found)

    core = requires("agentstore-core")
    assert core == ["blake3", "click", "pluggy", "pydantic", "tomli-w"]
    # the conformance suite's pytest is an extra: `pip install agentstore-core[conformance]`;
    # its encryption contracts need the crypto extra's one package
    assert requires("agentstore-core", "conformance") == ["cryptography", "pytest"]
    assert requires("agentstore-core", "crypto") == ["cryptography"]
    # the embedded drivers add nothing beyond the core's own dependencies
    for dist in ("agentstore-memory", "agentstore-sqlite"):
        assert "agentstore-core" in requires(dist)
        assert set(requires(dist)) <= {"agentstore-core", *core}, dist
    assert "psycopg" in requires("agentstore-postgres")
    assert set(requires("agentstore-redis")) == {"agentstore-core", "pydantic", "redis"}
    assert set(requires("agentstore-tiny")) == {"agentstore-core", "pydantic"}


def test_every_wheel_is_typed(wheels: dict[str, Path]) -> None:
    import zipfile

    for dist, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
        package = "agentstore" if dist == "agentstore-core" else dist.replace("-", "_")
        assert f"{package}/py.typed" in names, f"{wheel.name} has no {package}/py.typed"


def test_only_what_the_user_asked_for_is_installed(user_env: Path) -> None:
    listed = _run([_uv(), "pip", "list", "--python", user_env / "bin" / "python"], cwd=user_env)
    names = {line.split()[0].lower() for line in listed.stdout.splitlines()[2:]}
    assert {"agentstore-core", "agentstore-sqlite"} <= names
    assert not names & {
        "agentstore-memory",
        "agentstore-postgres",
        "agentstore-redis",
        "agentstore-tiny",
    }
    assert not names & {"psycopg", "psycopg-binary", "psycopg-pool", "redis"}
    probe = _run(
        [
            user_env / "bin" / "python",
            "-c",
            "import importlib.util as u; print(u.find_spec('psycopg'), u.find_spec('redis'))",
        ],
        cwd=user_env,
    )
    assert probe.stdout.strip() == "None None"


def test_drivers_lists_exactly_sqlite(user_env: Path) -> None:
    result = _run([user_env / "bin" / "agentstore", "drivers", "--json"], cwd=user_env)
    doc = json.loads(result.stdout)
    assert [d["name"] for d in doc["drivers"]] == ["sqlite"]
    assert doc["drivers"][0]["distribution"] == "agentstore-sqlite"
    assert doc["broken"] == []


def test_demo_runs_and_verify_finds_the_flipped_byte(user_env: Path, tmp_path: Path) -> None:
    agentstore = user_env / "bin" / "agentstore"
    scene = tmp_path / "scene"
    demo = _run([agentstore, "demo", "--dir", scene], cwd=tmp_path)
    assert "a store on the sqlite driver" in demo.stdout
    assert (
        "broken: stream 'conv:demo', writer 'bob', seq 2: content_hash does not match the payload"
        in demo.stdout
    )
    assert (scene / "agentstore.db").is_file()
    again = _run(
        [agentstore, "--config", scene / "agentstore.toml", "verify"], cwd=tmp_path, check=False
    )
    assert again.returncode == 1
    assert "broken: stream 'conv:demo', writer 'bob', seq 2:" in again.stdout


def test_a_postgres_policy_says_what_to_pip_install(user_env: Path, tmp_path: Path) -> None:
    agentstore = user_env / "bin" / "agentstore"
    _run([agentstore, "init", "--backend", "postgres"], cwd=tmp_path)
    result = _run([agentstore, "validate"], cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line
    assert "Traceback" not in line
    assert "store.backend" in line
    assert "pip install agentstore-postgres" in line


def test_init_then_validate_on_the_default(user_env: Path, tmp_path: Path) -> None:
    agentstore = user_env / "bin" / "agentstore"
    _run([agentstore, "init"], cwd=tmp_path)
    result = _run([agentstore, "validate"], cwd=tmp_path)
    assert result.stdout.startswith("ok: agentstore.toml")
    assert "sqlite (agentstore-sqlite " in result.stdout


def test_a_third_party_driver_wheel_joins_by_installing_it(
    wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    venv = tmp_path_factory.mktemp("thirdparty") / "venv"
    uv = _uv()
    _run([uv, "venv", "--python", sys.executable, venv], cwd=venv.parent)
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            venv / "bin" / "python",
            wheels["agentstore-core"],
            wheels["agentstore-sqlite"],
            wheels["agentstore-redis"],
        ],
        cwd=venv.parent,
    )
    result = _run([venv / "bin" / "agentstore", "drivers", "--json"], cwd=venv.parent)
    doc = json.loads(result.stdout)
    assert [(d["name"], d["distribution"]) for d in doc["drivers"]] == [
        ("redis", "agentstore-redis"),
        ("sqlite", "agentstore-sqlite"),
    ]


def test_the_tiny_driver_passes_the_suite_by_name_beside_the_core_alone(
    wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # What the tiny driver's README tells an author to run, from the wheels a release
    # would publish: no other driver installed, pytest brought by the conformance extra.
    venv = tmp_path_factory.mktemp("tiny") / "venv"
    uv = _uv()
    python = venv / "bin" / "python"
    _run([uv, "venv", "--python", sys.executable, venv], cwd=venv.parent)
    core = f"agentstore-core[conformance] @ {wheels['agentstore-core'].as_uri()}"
    _run(
        [uv, "pip", "install", "--python", python, core, wheels["agentstore-tiny"]], cwd=venv.parent
    )
    listed = _run([uv, "pip", "list", "--python", python], cwd=venv.parent)
    names = {line.split()[0].lower() for line in listed.stdout.splitlines()[2:]}
    assert {"agentstore-core", "agentstore-tiny", "pytest"} <= names
    assert not {n for n in names if n.startswith("agentstore-")} - {
        "agentstore-core",
        "agentstore-tiny",
    }
    drivers = json.loads(_run([venv / "bin" / "agentstore", "drivers", "--json"], cwd=venv).stdout)
    assert [d["name"] for d in drivers["drivers"]] == ["tiny"]

    empty = tmp_path_factory.mktemp("tiny-run")
    args = [python, "-m", "pytest", "--agentstore-driver", "tiny", "-q", "-rs"]
    result = _run([*args, "-p", "no:cacheprovider"], cwd=empty, check=False, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 200, summary
    assert "skipped" not in summary and "failed" not in summary, summary


def test_each_wheel_describes_itself_with_its_whole_readme(wheels: dict[str, Path]) -> None:
    """The package index shows METADATA's body: it must be the distribution's own README."""
    import zipfile

    from readme_blocks import readme

    for dist, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            text = zf.read(meta).decode()
        headers, _, body = text.partition("\n\n")
        assert "Description-Content-Type: text/markdown" in headers, dist
        urls = [line for line in headers.splitlines() if line.startswith("Project-URL:")]
        assert len(urls) >= 4, f"{dist}: {urls}"
        own = readme(dist).read_text(encoding="utf-8")
        assert body.strip() == own.strip(), f"{wheel.name}: the description is not its README"
        assert len(own.splitlines()) > 30, f"{dist}: the README is too short to stand alone"
