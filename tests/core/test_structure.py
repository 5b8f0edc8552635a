"""The core's shape: every module imports, none passes ~600 lines, no import cycle, and no
module imports from a layer above its own (see the layer table below)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import agentstore
import pytest

ROOT = Path(agentstore.__file__).parent
MAX_LINES = 600

# Layers from the ground up; a module imports only from its own layer or those below.
# The longest matching prefix decides. The key-value substrate (agentstore.kv) sits with the
# SQL substrate: both build capabilities for drivers and may use what a driver declares.
LAYERS: dict[str, int] = {
    "agentstore.errors": 0,
    "agentstore._discovery": 0,
    "agentstore.redact": 0,
    "agentstore.types": 1,
    "agentstore.chain": 1,
    "agentstore.translate": 1,
    "agentstore._policy_wording": 1,
    "agentstore._env_refs": 1,
    "agentstore.checks": 2,
    "agentstore.ratelimit": 2,
    "agentstore.doorbell": 2,
    "agentstore.logstore": 3,
    "agentstore.capabilities": 3,
    "agentstore.governance": 3,
    "agentstore.handles": 4,
    "agentstore.audit": 4,
    "agentstore.feed": 4,
    "agentstore.spec": 4,
    "agentstore._aa_storage": 4,
    "agentstore.crypto": 4,
    "agentstore.hookspecs": 5,
    "agentstore.registry": 5,
    "agentstore._policy_resolve": 6,
    "agentstore.policy": 6,
    "agentstore.driver": 6,
    "agentstore.store": 6,
    "agentstore": 7,
    "agentstore.__main__": 7,
    "agentstore.aio": 7,
    "agentstore.cli": 7,
    "agentstore.sql": 8,
    "agentstore.kv": 8,
    "agentstore.conformance": 8,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _imports(path: Path) -> set[str]:
    """agentstore modules imported when ``path`` is imported (not inside functions, not
    under TYPE_CHECKING)."""
    out: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.split(".")[0] == "agentstore")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] != "agentstore":
                    continue
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    out.add(sub if sub in MODULES else node.module)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return out & set(MODULES)


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


@pytest.mark.parametrize("module", [m for m in MODULES if not m.endswith("__main__")])
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_passes_the_line_limit(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by concern"


def test_every_public_module_declares_all() -> None:
    missing = [
        m
        for m, path in MODULES.items()
        if not any(p.startswith("_") for p in m.split("."))
        and not m.endswith("__main__")
        and "__all__" not in path.read_text(encoding="utf-8")
    ]
    assert missing == []


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH[module]):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                walk(dep, [*path, dep])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            walk(module, [module])


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = sorted(
        f"{m} (layer {_layer(m)}) imports {d} (layer {_layer(d)})"
        for m, deps in GRAPH.items()
        for d in deps
        if _layer(d) > _layer(m)
    )
    assert upward == []


def test_the_checks_would_catch_a_cycle_and_an_upward_import() -> None:
    # The graph is read from source: a lower module importing a higher one is seen.
    assert "agentstore.errors" in GRAPH["agentstore.chain"]
    assert _layer("agentstore.capabilities") < _layer("agentstore.handles")
    assert _layer("agentstore.kv.stores") == _layer("agentstore.sql.logs")
