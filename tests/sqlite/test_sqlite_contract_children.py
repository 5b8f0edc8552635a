"""ContractBase.child_appends: the policy never reaches a child's argv, and a child that
hangs past the timeout is killed with all its siblings."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agentstore import StorePolicy
from agentstore.conformance import ContractBase
from sqlite_helpers import sqlite_policy

MARKER = "Pa55-not-for-ps"


class TestChildAppends(ContractBase):
    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> StorePolicy:
        folder = tmp_path / MARKER  # stands in for a secret written in the policy
        folder.mkdir()
        return sqlite_policy(folder / "children.db")

    def _record_popen(
        self, monkeypatch: pytest.MonkeyPatch, *, hang: bool
    ) -> list[subprocess.Popen[Any]]:
        started: list[subprocess.Popen[Any]] = []
        real = subprocess.Popen

        def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
            assert not any(MARKER in a for a in args), args
            for a in args:  # a policy handed over in a file is private to its owner
                if a.endswith(".toml") and os.path.exists(a):
                    assert stat.S_IMODE(os.stat(a).st_mode) == 0o600
                    assert MARKER in Path(a).read_text()
            if hang and len(started) == 1:  # the second child hangs
                args = [sys.executable, "-c", "import time; time.sleep(60)"]
            proc = real(args, **kwargs)
            started.append(proc)
            return proc

        monkeypatch.setattr(subprocess, "Popen", popen)
        return started

    def test_policy_is_not_on_argv(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert MARKER in self.policy.dumps()
        started = self._record_popen(monkeypatch, hang=False)
        self.child_appends("s", "w", 2, 3)
        assert len(started) == 2
        store = self.open_store()
        assert store.log("s", writer="w").verify() == 6

    def test_a_timeout_kills_every_child(self, monkeypatch: pytest.MonkeyPatch) -> None:
        started = self._record_popen(monkeypatch, hang=True)
        monkeypatch.setattr(type(self), "CHILD_TIMEOUT", 2.0)
        with pytest.raises(subprocess.TimeoutExpired):
            self.child_appends("s", "w", 3, 1)
        assert len(started) == 3
        assert all(p.poll() is not None for p in started)  # none left running
        leftovers = [a for p in started for a in p.args if str(a).endswith(".toml")]
        assert leftovers and not any(os.path.exists(a) for a in leftovers)
