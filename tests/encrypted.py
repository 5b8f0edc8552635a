"""Keys in the environment and policies that name them, for the encryption tests of every
folder."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from agentstore import StorePolicy

KEY_ENV: Final = "AGENTSTORE_TEST_KEY"
ENCRYPTED: Final = {"key": {"env": KEY_ENV}}


def sqlite_policy(path: Path, encryption: dict[str, object] | None) -> StorePolicy:
    return StorePolicy("sqlite", sections={"sqlite": {"path": str(path)}}, encryption=encryption)
