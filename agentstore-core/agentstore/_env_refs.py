"""``{ env = "NAME" }`` references in driver sections: their shape, and reading them."""

from __future__ import annotations

import os
from typing import Any

from agentstore._policy_wording import looks_like_env_ref, malformed_env_ref
from agentstore.errors import InvalidPolicy, MissingEnvironmentVariable


def is_env_ref(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)


def check_section_values(value: object, path: str) -> None:
    """Reject inline tables that are neither plain data nor a well-formed env reference."""
    if isinstance(value, dict):
        if "env" in value and not is_env_ref(value):
            raise InvalidPolicy(
                'an environment reference is written { env = "NAME" } and nothing else',
                path=path,
            )
        if looks_like_env_ref(value):
            raise InvalidPolicy(malformed_env_ref(str(next(iter(value)))), path=path)
        for k, v in value.items():
            check_section_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_section_values(v, f"{path}[{i}]")


def resolve_env(value: Any, path: str) -> Any:
    """Replace every ``{ env = "NAME" }`` in ``value`` by the variable's value."""
    if is_env_ref(value):
        name = value["env"]
        found = os.environ.get(name)
        if found is None:
            raise MissingEnvironmentVariable(
                f"environment variable {name} is not set; set it in the environment of the "
                "process that opens the store",
                path=path,
            )
        return found
    if isinstance(value, dict):
        return {k: resolve_env(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def resolve_set(value: Any) -> tuple[Any, bool]:
    """``value`` with its env references resolved, and whether each one was set."""
    if is_env_ref(value):
        found = os.environ.get(value["env"])
        return found, found is not None
    if isinstance(value, dict):
        pairs = {k: resolve_set(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, all(ok for _, ok in pairs.values())
    if isinstance(value, list):
        items = [resolve_set(v) for v in value]
        return [v for v, _ in items], all(ok for _, ok in items)
    return value, True


__all__ = ["check_section_values", "is_env_ref", "resolve_env", "resolve_set"]
