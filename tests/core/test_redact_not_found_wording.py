"""Redacting an entry a log does not hold says so in the same words on every driver."""

from __future__ import annotations

from pathlib import Path

import agentstore
import pytest
from agentstore import NotFound, StorePolicy


@pytest.mark.parametrize("backend", ["memory", "sqlite", "tiny"])
def test_redacting_a_missing_entry_names_its_seq(backend: str, tmp_path: Path) -> None:
    sections = {"sqlite": {"path": str(tmp_path / "r.db")}} if backend == "sqlite" else {}
    if backend == "tiny":
        sections = {"tiny": {"path": str(tmp_path / "tiny")}}
    with agentstore.open(StorePolicy(backend, sections=sections)) as store:
        log = store.log("conv", writer="w")
        log.append(b"x")
        with pytest.raises(NotFound) as caught:
            log.redact(99, reason="gdpr")
    assert caught.value.message == "log ('conv', 'w') has no entry at seq 99"
