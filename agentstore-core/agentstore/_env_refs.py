"""Secrets by reference in driver sections: ``{ env = "NAME" }`` references and pydantic
``SecretStr`` values handed over in code; their shape, reading them, and writing a section
back as TOML without them.

A ``SecretStr`` comes from an application's own settings (``StorePolicy.from_dict``); like
an env reference it is kept as it is until a store is opened, so a policy's repr, str and
dump never hold its value.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from typing import Any

import tomli_w
from pydantic import SecretStr

from agentstore._policy_wording import looks_like_env_ref, malformed_env_ref
from agentstore.errors import InvalidPolicy, MissingEnvironmentVariable

_TOML_SCALARS = (str, int, float, bool, datetime.date, datetime.time)


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
    if isinstance(value, SecretStr):
        return value.get_secret_value()
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
    if isinstance(value, SecretStr):
        return value.get_secret_value(), True
    if isinstance(value, dict):
        pairs = {k: resolve_set(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, all(ok for _, ok in pairs.values())
    if isinstance(value, list):
        items = [resolve_set(v) for v in value]
        return [v for v, _ in items], all(ok for _, ok in items)
    return value, True


def dump_toml(document: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """``document`` as TOML, env references written inline (``url = { env = "NAME" }``).

    A ``SecretStr`` at a TOML path listed in ``env`` is written as a reference to the
    variable named there; its value is never written.

    Raises:
        InvalidPolicy: a ``SecretStr`` at a path not in ``env`` (naming the path and the
            two ways to write it), or a value TOML cannot hold (naming its type only).
    """
    refs: dict[str, str] = {}

    def inline(name: str) -> str:
        # tomli-w writes every mapping as a table; swap references for unique placeholders
        # and put the inline form back after rendering.
        token = f"agentstore-env-ref-{len(refs)}-{id(refs)}"
        refs[token] = "{ env = " + tomli_w.dumps({"v": name})[4:].strip() + " }"
        return token

    def mark(value: Any, path: str) -> Any:
        if is_env_ref(value):
            return inline(value["env"])
        if isinstance(value, SecretStr):
            name = env.get(path)
            if name is None:
                raise InvalidPolicy(
                    "holds a secret given in code (a SecretStr), which a dump never writes: "
                    'give it as { "env": "NAME" } instead, or pass '
                    f'env={{"{path}": "NAME"}} to dumps() to write that reference',
                    path=path,
                )
            return inline(name)
        if isinstance(value, Mapping):
            return {k: mark(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, _TOML_SCALARS):
            raise InvalidPolicy(
                f"a {type(value).__name__} cannot be written as TOML: give a string, "
                "number, boolean, date, list or table",
                path=path,
            )
        return value

    marked = {k: mark(v, k) for k, v in document.items()}
    unknown = sorted(set(env) - secret_paths(document))
    if unknown:
        raise InvalidPolicy(
            f"env= names {', '.join(unknown)}, where the policy holds no SecretStr",
            path=unknown[0],
        )
    text = tomli_w.dumps(marked)
    for token, written in refs.items():
        text = text.replace(f'"{token}"', written)
    return text


def secret_paths(document: Mapping[str, Any]) -> set[str]:
    """The TOML path of every ``SecretStr`` in ``document``."""
    found: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, SecretStr):
            found.add(path)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    for key, value in document.items():
        walk(value, key)
    return found


__all__ = [
    "check_section_values",
    "dump_toml",
    "is_env_ref",
    "resolve_env",
    "resolve_set",
    "secret_paths",
]
