"""``agentstore demo``: the scene runs, and the flipped byte is caught exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agentstore import Registry
from click.testing import Result

Run = Callable[..., Result]


def test_demo_catches_the_flipped_byte(run: Run, installed: Registry, workdir: Path) -> None:
    result = run("demo", "--dir", str(workdir / "scene"), reg=installed)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert (
        out[0] == f"agentstore demo: a store on the sqlite driver at {workdir}/scene/agentstore.db"
    )
    # two agents' turns, each followed by the doorbell announcing its commit
    turns = [i for i, line in enumerate(out) if line.startswith(("  alice: ", "  bob: "))]
    assert len(turns) == 4
    for i in turns:
        assert out[i + 1].startswith("    doorbell: conv:demo ")
    bells = [line.split()[1:5] for line in out if line.startswith("    doorbell:")]
    assert bells == [
        ["conv:demo", "alice", "seq", "1"],
        ["conv:demo", "bob", "seq", "1"],
        ["conv:demo", "alice", "seq", "2"],
        ["conv:demo", "bob", "seq", "2"],
    ]
    # the report clock
    assert "  report #1 stamped by generation 'report' = 1; covers alice@1, bob@1" in out
    assert "  report #2 stamped by generation 'report' = 2; covers alice@2, bob@2" in out
    # verified, then tampered, then caught at exactly one place
    assert "  conv:demo alice: 2 entries, ok" in out
    assert "  agentstore:audit audit: 2 entries, ok" in out
    broken = [line for line in out if "broken:" in line]
    assert broken == [
        "  broken: stream 'conv:demo', writer 'bob', seq 2: content_hash does not match the payload"
    ]
    assert "Traceback" not in result.stderr
    # the store is kept, with its policy: verify run on it later names the same place
    scene = workdir / "scene"
    assert (scene / "agentstore.db").is_file()
    later = run("--config", str(scene / "agentstore.toml"), "verify", reg=installed)
    assert later.exit_code == 1
    assert later.stdout.splitlines() == [
        "broken: stream 'conv:demo', writer 'bob', seq 2: content_hash does not match the payload",
        "1 of 3 chains broken",
    ]


def test_demo_needs_the_embedded_default(run: Run, error_line: Callable[[Result], str]) -> None:
    result = run("demo")  # the test registry holds only the memory driver
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith("the demo runs on the embedded default: driver 'sqlite'")
    assert "pip install agentstore-sqlite" in line


def test_demo_refuses_a_folder_that_holds_a_store(
    run: Run, installed: Registry, workdir: Path, error_line: Callable[[Result], str]
) -> None:
    scene = workdir / "scene"
    scene.mkdir()
    (scene / "agentstore.db").write_bytes(b"")
    result = run("demo", "--dir", str(scene), reg=installed)
    assert result.exit_code == 2
    assert "already holds a demo store" in error_line(result)
