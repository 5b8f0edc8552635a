"""Entry-point discovery without importlib.metadata: it must list what importlib.metadata
lists, and hand the unusual layouts to importlib.metadata itself."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from agentstore import _discovery


def _expected(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
        for ep in importlib.metadata.entry_points(group=group)
    ]


def _found(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.name, e.value, e.distribution, e.version) for e in _discovery.entry_points(group)]


@pytest.mark.parametrize("group", ["agentstore.drivers", "console_scripts", "pytest11"])
def test_lists_what_importlib_metadata_lists(group: str) -> None:
    found = _found(group)
    assert found, f"nothing installed in {group}?"
    assert sorted(found) == sorted(_expected(group))


def test_drivers_group_includes_the_first_party_drivers() -> None:
    names = {e.name for e in _discovery.entry_points("agentstore.drivers")}
    assert {"memory", "sqlite", "postgres"} <= names


def _dist(site: Path, folder: str, name: str, version: str, entry_points: str) -> None:
    info = site / folder
    info.mkdir(parents=True)
    (info / ("PKG-INFO" if folder.endswith(".egg-info") else "METADATA")).write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-a-header\n"
    )
    (info / "entry_points.txt").write_text(entry_points)


def test_first_distribution_of_a_name_on_sys_path_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    text = "[agentstore.test_group]\n# a comment\nalpha = pkg.mod:obj.attr [extra]\n"
    _dist(first, "Demo.Pkg-2.0.dist-info", "Demo.Pkg", "2.0", text)
    _dist(second, "demo_pkg-1.0.dist-info", "demo-pkg", "1.0", "[agentstore.test_group]\nb = x\n")
    _dist(second, "legacy-0.5.egg-info", "legacy", "0.5", "[agentstore.test_group]\nold = y:z\n")
    _dist(second, "other-1.0.dist-info", "other", "1.0", "[another.group]\nc = q\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second)])
    found = _found("agentstore.test_group")
    assert sorted(found) == sorted(_expected("agentstore.test_group"))
    assert ("alpha", "pkg.mod:obj.attr [extra]", "Demo.Pkg", "2.0") in found
    assert ("old", "y:z", "legacy", "0.5") in found
    assert not any(name == "b" for name, *_ in found)  # demo_pkg 1.0 is shadowed


def test_a_zip_on_sys_path_is_read_through_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[agentstore.test_group]\nz = m\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert ("z", "m", "zipped", "1.0") in _found("agentstore.test_group")


def test_load_resolves_module_and_attributes() -> None:
    ep = _discovery.FoundEntryPoint("x", "os.path : join", None, None)
    import os.path

    assert ep.load() is os.path.join
    assert (
        _discovery.FoundEntryPoint("x", "agentstore", None, None).load()
        is sys.modules["agentstore"]
    )
    with pytest.raises(ValueError, match="malformed"):
        _discovery.FoundEntryPoint("x", "not a value!", None, None).load()


def test_opening_the_default_store_does_not_import_importlib_metadata(tmp_path: Path) -> None:
    probe = (
        "import sys, agentstore\n"
        "agentstore.open().close()\n"
        "print(sorted(m for m in sys.modules if m.startswith('importlib.metadata')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "agentstore.db").exists()


def test_unusual_layouts_match_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, eggs = tmp_path / "site", tmp_path / "eggs"
    group = "[agentstore.test_group]\n"
    # an unzipped egg whose name has a dot, beside a dist-info of the same project
    egg = eggs / "zope.demo-1.0-py3.11.egg"
    _dist(egg, "EGG-INFO", "zope.demo", "1.0", group + "egg = m\n")
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Name: zope.demo\nVersion: 0.9\n")
    _dist(site, "zope_demo-2.0.dist-info", "zope-demo", "2.0", group + "dist = m\n")
    # an empty METADATA beside a PKG-INFO, and an upper-case suffix
    _dist(site, "empty-1.0.dist-info", "x", "0", group + "empty = m\n")
    (site / "empty-1.0.dist-info" / "METADATA").write_text("")
    (site / "empty-1.0.dist-info" / "PKG-INFO").write_text("Name: empty\nVersion: 1.0\n")
    _dist(site, "Upper-3.0.DIST-INFO", "upper", "3.0", group + "upper = m\n")
    # a header block with a whitespace-only line in it
    _dist(site, "spaced-1.0.dist-info", "spaced", "1.0", group + "spaced = m\n")
    (site / "spaced-1.0.dist-info" / "METADATA").write_text(
        "Name: spaced\nSummary: one\n  \nVersion: 1.5\n\nbody\n"
    )
    monkeypatch.setattr(sys, "path", [str(site), str(egg)])
    assert sorted(_found("agentstore.test_group")) == sorted(_expected("agentstore.test_group"))
