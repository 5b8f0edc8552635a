"""The tiny example driver (agentstore-tiny): installed by entry point, honest about what
it creates, tamper-evident in its own file, and as small as its README says."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import agentstore
import pytest
from agentstore import BackendUnavailable, ChainBroken, StorePolicy, default_registry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "kv"))
from loc import code_lines  # noqa: E402


def _policy(path: Path) -> StorePolicy:
    return StorePolicy("tiny", sections={"tiny": {"path": str(path)}})


def test_registered_by_its_entry_point_with_every_capability() -> None:
    spec = default_registry().get("tiny")
    assert spec.distribution == "agentstore-tiny"
    assert len(spec.capabilities) == 8
    assert spec.conformance == "agentstore_tiny.conformance:SUPPORT"


def test_discovery_imports_neither_sqlite3_nor_the_substrate() -> None:
    probe = (
        "import sys, agentstore_tiny\n"
        "print(sorted({'sqlite3', 'agentstore.kv'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_new_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    with agentstore.open(_policy(tmp_path / "t.db")) as store:
        store.generation("g").bump()
    assert (tmp_path / "t.db").stat().st_mode & 0o777 == 0o600


def test_create_false_creates_no_file(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no such store"):
        agentstore.open(_policy(tmp_path / "t.db"), create=False)
    assert list(tmp_path.iterdir()) == []


def test_create_false_on_a_file_holding_no_store_creates_no_table(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    with pytest.raises(BackendUnavailable):
        agentstore.open(_policy(path), create=False)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


@pytest.mark.parametrize("as_type", ["BLOB", "TEXT"])
def test_an_edit_made_in_the_file_itself_is_caught(tmp_path: Path, as_type: str) -> None:
    path = tmp_path / "t.db"
    with agentstore.open(_policy(path)) as store:
        store.log("conv", writer="alice").append_many([b"one", b"two", b"three"])
    db = sqlite3.connect(path)
    with db:  # the stored value of entry 2 ends in its payload, b"two": make it b"twX"
        edit = f"CAST(substr(v, 1, length(v) - 1) || 'X' AS {as_type})"
        db.execute(f"UPDATE kv SET v = {edit} WHERE hex(v) LIKE '%' || hex('two')")
    db.close()
    with agentstore.open(_policy(path)) as store, pytest.raises(ChainBroken) as info:
        store.log("conv", writer="alice").verify()
    assert info.value.seq == 2


def test_generations_and_logs_fit_in_fifty_lines_and_all_eight_too() -> None:
    package = ROOT / "examples" / "tiny-driver" / "agentstore_tiny"
    total = sum(code_lines(p.read_text(encoding="utf-8")) for p in package.rglob("*.py"))
    assert total <= 50, f"agentstore-tiny is {total} lines of code"
