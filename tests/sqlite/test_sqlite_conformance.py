"""The sqlite driver against every contract, on a file and in memory (subclass route).

``pytest --agentstore-driver sqlite`` runs the same suite by name, on files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from agentstore import StorePolicy
from agentstore.conformance import AllContracts, ConformanceSupport, tamper_via_log_store
from agentstore_sqlite.conformance import SUPPORT, fresh_section
from sqlite_helpers import sqlite_policy


class TestSqliteFileConformance(AllContracts):
    @pytest.fixture
    def agentstore_policy(self, tmp_path: Path) -> StorePolicy:
        return sqlite_policy(tmp_path / "conformance.db")


class TestSqliteMemoryConformance(AllContracts):
    # each open is a new database
    conformance = ConformanceSupport(persistent=False, tamper=tamper_via_log_store)

    @pytest.fixture
    def agentstore_policy(self) -> StorePolicy:
        return sqlite_policy(":memory:")


def test_fresh_section_moves_the_file_into_the_test_folder(tmp_path: Path) -> None:
    assert SUPPORT.persistent
    assert SUPPORT.fresh_section is not None
    section = {"path": "/srv/shared.db", "synchronous": "FULL"}
    assert fresh_section(section, tmp_path) == {
        "path": str(tmp_path / "conformance.db"),
        "synchronous": "FULL",
    }
    assert fresh_section({}, tmp_path) == {"path": str(tmp_path / "conformance.db")}
    assert fresh_section({"path": ":memory:"}, tmp_path) == {
        "path": str(tmp_path / "conformance.db")
    }
