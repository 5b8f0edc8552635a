"""Running ``pg_worker.py`` processes from tests and starting them together."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("pg_worker.py")


class Workers:
    """Processes that each print ``ready``, wait for the go signal, then print JSON."""

    def __init__(self, *commands: list[str]) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), *cmd],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for cmd in commands
        ]

    def wait_ready(self) -> None:
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                _, err = proc.communicate(timeout=10)
                raise AssertionError(f"worker failed before starting: {line!r}\n{err}")

    def go(self, timeout: float = 60) -> list[dict[str, Any]]:
        """Start every worker at once; return each one's JSON result (in command order)."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in self.procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, f"worker exited {proc.returncode}:\n{err}"
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results

    def kill(self) -> None:
        """Kill any worker still running and close every pipe."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
