"""The commented starter policy that ``agentstore init`` (and the demo) writes.

Values are rendered with tomli-w. tomli-w writes no comments and renders every mapping as
a table, so the comment lines and the inline ``{ env = "NAME" }`` references are composed
here around values tomli-w formatted; :func:`starter_policy` checks the text reads back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import tomli_w
from pydantic import BaseModel

from agentstore.capabilities import CAPABILITIES
from agentstore.policy import StorePolicy
from agentstore.registry import FIRST_PARTY
from agentstore.spec import DriverSpec

STARTER_SECTIONS: Final[Mapping[str, Mapping[str, Any]]] = {
    "sqlite": {"path": "agentstore.db"},
    "postgres": {"url": {"env": "AGENTSTORE_POSTGRES_URL"}},
}
"""The settings a starter policy writes for first-party drivers, installed or not."""

_HEADER: Final = """\
# agentstore policy: which driver serves each capability, and each driver's settings.
# Written by `agentstore init`; check it with `agentstore validate`.
# agentstore.open() finds it as ./agentstore.toml, or through $AGENTSTORE_CONFIG;
# the CLI also takes `agentstore --config PATH`.
#
# Any string in a driver section may be written { env = "NAME" }: it is read from the
# environment when a store is opened, so secrets stay out of reviewed files.
# Relative paths are relative to the folder of this file.
"""


def _key(key: str) -> str:
    return tomli_w.dumps({key: 0}).split(" = ")[0]


def _value(value: Any) -> str:
    """``value`` as inline TOML: a table stays inline (``{ env = "NAME" }``, ``{}``), so an
    uncommented line never opens a table of its own."""
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[len("v = ") :].strip()


def _line(key: str, value: Any) -> str:
    """One ``key = value`` line."""
    return f"{_key(key)} = {_value(value)}"


def _field_default(model: type[BaseModel], name: str) -> tuple[bool, Any]:
    field = model.model_fields[name]
    if field.is_required():
        return False, None
    try:
        return True, field.get_default(call_default_factory=True)
    except (TypeError, ValueError):  # a factory that needs the other fields' values
        return False, None


def _model_lines(spec: DriverSpec, written: Mapping[str, Any]) -> list[str]:
    """Comment lines for the settings of ``spec`` the starter leaves at their defaults."""
    lines: list[str] = []
    model = spec.config_model
    for name, field in model.model_fields.items():
        key = field.alias or name  # the key a policy writes (postgres: schema)
        if name in written or key in written:
            continue
        has_default, default = _field_default(model, name)
        about = f"  # {field.description}" if field.description else ""
        if not has_default:
            lines.append(f"# {key} = ...   (required){about}")
            continue
        try:
            json.dumps(default)
            rendered = _line(key, default)
        except (TypeError, ValueError):
            continue
        if "\n" in rendered:
            continue
        lines.append(f"# {rendered}{about}")
    return lines


def missing_capabilities(spec: DriverSpec | None) -> list[str]:
    """The capabilities ``spec`` does not provide, in canonical order."""
    if spec is None:
        return []
    return [cap for cap in CAPABILITIES if cap not in spec.capabilities]


def starter_policy(
    backend: str,
    spec: DriverSpec | None,
    *,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    capabilities: Mapping[str, str] | None = None,
) -> str:
    """The text of a commented policy routing every capability to ``backend``.

    Args:
        backend: the driver name for ``[store] backend``.
        spec: the installed driver, used to list its optional settings as comments; None
            when it is not installed.
        sections: driver sections to write instead of the starter ones.
        capabilities: per-capability overrides to write live (else an example is commented).

    The result always reads back (``StorePolicy.loads``) to the policy it describes.
    """
    wanted = dict(sections) if sections is not None else {}
    if sections is None and backend in STARTER_SECTIONS:
        wanted[backend] = dict(STARTER_SECTIONS[backend])
    parts = [_HEADER, tomli_w.dumps({"store": {"backend": backend}}).strip()]

    for name, values in wanted.items():
        parts.append("")
        parts.append(f"# Settings of the {name} driver.")
        parts.append(f"[store.{_key(name)}]")
        parts.extend(_line(k, v) for k, v in values.items())
        if spec is not None and spec.name == name:
            parts.extend(_model_lines(spec, values))
    if backend not in wanted:
        parts.append("")
        if spec is not None and spec.needs_section:
            parts.append(f"# The {backend} driver needs settings:")
            parts.append(f"[store.{backend}]")
            parts.extend(_model_lines(spec, {}))
            wanted[backend] = {}
        elif spec is not None:
            optional = _model_lines(spec, {})
            if optional:
                parts.append(f"# Settings of the {backend} driver (defaults shown):")
                parts.append(f"# [store.{backend}]")
                parts.extend(optional)
            else:
                parts.append(f"# The {backend} driver takes no settings.")
        elif backend in FIRST_PARTY:
            parts.append(f"# The {backend} driver takes its settings under [store.{backend}].")
        else:
            parts.append(f"# Settings of the {backend} driver go under [store.{backend}].")

    parts.append("")
    missing = missing_capabilities(spec)
    if capabilities:
        parts.append("# Capabilities served by another driver than the backend.")
        parts.append("[store.capabilities]")
        parts.extend(_line(k, v) for k, v in capabilities.items())
    elif missing:
        other = "sqlite" if backend != "sqlite" else "memory"
        parts.append(f"# The {backend} driver does not provide {', '.join(missing)}:")
        parts.append("# route them to another installed driver before using this policy.")
        parts.append("# [store.capabilities]")
        parts.extend(f'# {cap} = "{other}"' for cap in missing)
    else:
        parts.append("# Route single capabilities to another installed driver, for example:")
        parts.append("# [store.capabilities]")
        parts.append('# rate_limits = "memory"')
    parts.append(f"# Capabilities: {', '.join(CAPABILITIES)}.")
    text = "\n".join(parts) + "\n"

    expected = StorePolicy(backend, capabilities=capabilities, sections=wanted)
    if StorePolicy.loads(text) != expected:  # pragma: no cover - a bug in this module
        raise AssertionError("the starter policy does not read back to what it describes")
    return text


__all__ = [
    "STARTER_SECTIONS",
    "missing_capabilities",
    "starter_policy",
]
