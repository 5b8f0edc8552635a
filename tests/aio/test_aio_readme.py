"""The README's asyncio example runs, and a user's ``mypy --strict`` accepts it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _async_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## asyncio: the same contract, awaited", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the asyncio section holds one python example"
    return str(blocks[0])


def test_readme_async_example_passes_mypy_strict(tmp_path: Path) -> None:
    example = tmp_path / "readme_async.py"
    example.write_text(_async_example(), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_async_example_runs(tmp_path: Path) -> None:
    example = tmp_path / "readme_async.py"
    example.write_text(_async_example(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "AGENTSTORE_CONFIG"}
    result = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the default policy: ./agentstore.db in this folder
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "committed conv:demo alice 1" in lines
    assert "committed conv:demo alice 3" in lines
    assert "rang 1" in lines
    assert "2 b'two'" in lines
    assert "1 1" in lines
    assert (tmp_path / "agentstore.db").exists()
