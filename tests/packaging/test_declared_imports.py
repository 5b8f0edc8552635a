"""Every distribution declares what its code imports (a transitive dependency may vanish).

A static check of the sources, so it runs with the fast suite (no wheels are built).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = {
    "agentstore-core": ROOT / "agentstore-core" / "agentstore",
    "agentstore-memory": ROOT / "agentstore-memory" / "agentstore_memory",
    "agentstore-sqlite": ROOT / "agentstore-sqlite" / "agentstore_sqlite",
    "agentstore-postgres": ROOT / "agentstore-postgres" / "agentstore_postgres",
    "agentstore-redis": ROOT / "examples" / "thirdparty-driver" / "agentstore_redis",
    "agentstore-tiny": ROOT / "examples" / "tiny-driver" / "agentstore_tiny",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(package_dir: Path) -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((package_dir.parent / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {_norm(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs}  # type: ignore[union-attr]

    extras = project.get("optional-dependencies", {})
    return names(project.get("dependencies", [])), {k: names(v) for k, v in extras.items()}


def _imports(package_dir: Path) -> dict[str, set[str]]:
    """Top-level modules imported, each with the files importing it."""
    found: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                found.setdefault(top, set()).add(str(path.relative_to(package_dir)))
    return found


@pytest.mark.parametrize("dist", sorted(PROJECTS))
def test_every_imported_distribution_is_declared(dist: str) -> None:
    package_dir = PROJECTS[dist]
    required, extras = _declared(package_dir)
    providers = dict(importlib.metadata.packages_distributions())
    # the workspace is installed editable, which packages_distributions() does not see
    providers.update({p.name: [d] for d, p in PROJECTS.items()})
    # the pytest11 and console-script shims, top-level modules beside the package
    providers["_agentstore_pytest"] = ["agentstore-core"]
    providers["_agentstore_cli"] = ["agentstore-core"]
    undeclared = []
    for top, files in sorted(_imports(package_dir).items()):
        if top in sys.stdlib_module_names or top in (package_dir.name, "__future__"):
            continue
        owners = {_norm(d) for d in providers.get(top, [])}
        assert owners, f"{dist}: no installed distribution provides {top!r}"
        if owners == {_norm(dist)}:
            continue
        optional = {e for e, names in extras.items() if owners & names}
        if owners & required:
            continue
        if optional:
            # code needing an extra lives in its own subpackage, named after the extra
            assert all(f.split("/")[0] in optional for f in files), (dist, top, files)
            continue
        undeclared.append(f"{top} ({', '.join(sorted(owners))}) in {', '.join(sorted(files))}")
    assert not undeclared, f"{dist} imports undeclared distributions: {undeclared}"


def test_the_conformance_extra_brings_pytest_and_what_the_crypto_contracts_need() -> None:
    _, extras = _declared(PROJECTS["agentstore-core"])
    assert extras.get("conformance") == {"pytest"} | extras["crypto"]
