"""The packaging tests build wheels and install them into fresh virtual environments.

They take about a minute and need ``uv`` (PyPI or uv's cache for the dependencies).
Run them alone with ``uv run pytest -m packaging``; leave them out with
``-m "not packaging"``.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "packaging: builds wheels and installs them in fresh venvs (about 1 min)"
    )
