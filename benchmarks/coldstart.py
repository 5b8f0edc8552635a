"""Cold start: fresh interpreters importing agentstore and opening the default SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Settings
from benchmarks.harness import Contender, Runner, Sample, Scenario, Unavailable

UNAVOIDABLE = ("pydantic", "pluggy", "tomllib", "sqlite3", "blake3")
FLOOR_CODE = "import sqlite3, tomllib, pluggy, blake3; from pydantic import BaseModel"
REPORT_PSYCOPG = (
    "import sys; print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg')))"
)
OPEN_CODE = f"import agentstore; agentstore.open().close(); {REPORT_PSYCOPG}"
IMPORT_CODE = f"import agentstore; {REPORT_PSYCOPG}"


class StartRunner:
    """Starts ``python -c CODE`` ``starts`` times in ``cwd``; a sample is their mean."""

    def __init__(
        self, code: str, starts: int, cwd: Path, *, fresh_dir: bool = False, psycopg: bool = False
    ) -> None:
        self.code, self.starts, self.cwd = code, starts, cwd
        self.fresh_dir, self.psycopg = fresh_dir, psycopg
        # A user's interpreter caches bytecode; with PYTHONDONTWRITEBYTECODE set (as some
        # shells and CI images do) every start would recompile every module it imports.
        dropped = ("AGENTSTORE_CONFIG", "PYTHONDONTWRITEBYTECODE")
        self.env = {k: v for k, v in os.environ.items() if k not in dropped}
        self.count = 0

    def run(self) -> Sample:
        total = 0.0
        imported: set[str] = set()
        for _ in range(self.starts):
            cwd = self.cwd
            if self.fresh_dir:
                self.count += 1
                cwd = self.cwd / f"start-{self.count}"
                cwd.mkdir()
            cmd = [sys.executable, "-c", self.code]
            start = time.perf_counter()
            proc = subprocess.run(
                cmd, cwd=cwd, env=self.env, capture_output=True, text=True, check=False
            )
            total += time.perf_counter() - start
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise RuntimeError(f"python -c exited {proc.returncode}: {tail}")
            imported.update(m for m in proc.stdout.strip().split(",") if m)
        extra: dict[str, bool] = {"psycopg imported": bool(imported)} if self.psycopg else {}
        return Sample(self.starts, total, extra)

    def close(self) -> None:
        pass


def _agentstore_start(settings: Settings, name: str, code: str, fresh: bool, starts: int) -> Runner:
    try:
        import agentstore
    except ImportError as exc:
        raise Unavailable(f"agentstore is not importable ({exc})") from exc
    if code == OPEN_CODE:
        try:
            agentstore.default_registry().get("sqlite")
        except agentstore.UnknownDriver as exc:
            raise Unavailable("agentstore driver 'sqlite' is not installed") from exc
    return StartRunner(code, starts, settings.path(name), fresh_dir=fresh, psycopg=True)


def scenarios(settings: Settings) -> list[Scenario]:
    starts = settings.n(4, 2)
    cwd = settings.path("coldstart")

    def start(code: str) -> Runner:
        return StartRunner(code, starts, cwd)

    def importer(module: str) -> Callable[[], Runner]:
        code = "from pydantic import BaseModel" if module == "pydantic" else f"import {module}"
        return lambda: start(code)

    imports = [
        Contender(f"python -c 'import {m}'", "part", "n/a", importer(m)) for m in UNAVOIDABLE
    ]
    return [
        Scenario(
            key="coldstart",
            title="Cold start: a fresh interpreter imports agentstore and opens the default store",
            unit="starts",
            show_rate=False,
            note=(
                f"Wall time of `python -c ...` as a fresh subprocess, {starts} starts per sample. "
                "The floor imports together what agentstore cannot avoid "
                f"(`{FLOOR_CODE}`); each import alone is shown too (subtract `python -c pass`). "
                "The default store is a SQLite file in an empty folder (existing: the file is "
                "already there; new: created by this start)."
            ),
            contenders=[
                Contender("python -c pass", "part", "n/a", lambda: start("pass")),
                Contender("unavoidable imports (floor)", "floor", "n/a", lambda: start(FLOOR_CODE)),
                Contender(
                    "import agentstore",
                    "agentstore",
                    "n/a",
                    lambda: _agentstore_start(settings, "cs-import", IMPORT_CODE, False, starts),
                ),
                Contender(
                    "import agentstore + open default store (existing file)",
                    "agentstore",
                    "n/a",
                    lambda: _agentstore_start(settings, "cs-open", OPEN_CODE, False, starts),
                ),
                Contender(
                    "import agentstore + open default store (new file)",
                    "agentstore",
                    "n/a",
                    lambda: _agentstore_start(settings, "cs-new", OPEN_CODE, True, starts),
                ),
                *imports,
            ],
        )
    ]
