"""A fresh key in the environment for each encryption test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agentstore.crypto import generate_key
from encrypted import KEY_ENV


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh key, set as $AGENTSTORE_TEST_KEY."""
    value = generate_key()
    monkeypatch.setenv(KEY_ENV, value)
    yield value
