"""The example third-party driver passes agentstore's conformance suite, run by name as
its author (and CI) would run it: ``pytest --agentstore-driver redis``, with nothing
skipped."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_conformance_suite_by_name(redis_server: str, tmp_path: Path) -> None:
    # run from an empty folder: the suite comes from the installed agentstore-core
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--agentstore-driver",
            "redis",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed.group(1)) >= 100, summary
    assert "failed" not in summary and "error" not in summary
    # it declares every capability, persistence, cross-process safety and tamper evidence:
    # not one contract test may skip
    assert "skipped" not in summary, summary
