"""JSON values for the contracts of the stores that keep them (policies, audit, sessions)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from agentstore.capabilities import MAX_JSON_DEPTH


def json_value() -> dict[str, Any]:
    """A fresh JSON object with arrays and objects inside, and text every store must keep."""
    return {"list": [1, {"deep": "x"}], "obj": {"n": 1}, "text": "nul \x00 emoji \U0001f600"}


def try_to_change(value: Any) -> None:
    """Change a JSON value read back in place every way a dict or list allows; a frozen
    value refuses each (TypeError), and either way the stored value must not change."""
    changes: list[Callable[[], object]] = [
        lambda: value["list"].append(2),
        lambda: value["list"][1].__setitem__("deep", "changed"),
        lambda: value["obj"].pop("n"),
        lambda: value.__setitem__("new", True),
        lambda: value.pop("text"),
    ]
    for change in changes:
        with contextlib.suppress(TypeError):
            change()


def deepest_value() -> dict[str, Any]:
    """A JSON object nested exactly as deep as a domain value may hold (MAX_JSON_DEPTH)."""
    inner: Any = ["bottom"]
    for _ in range(MAX_JSON_DEPTH - 2):
        inner = {"k": inner}
    return {"k": inner}


BAD_JSON_VALUES: tuple[object, ...] = ("\ud800", {"\udfff": 1}, float("nan"), [{1: 2}])
"""JSON values every domain value refuses (a lone surrogate, NaN, a non-string key)."""


__all__ = [
    "BAD_JSON_VALUES",
    "deepest_value",
    "json_value",
    "try_to_change",
]
