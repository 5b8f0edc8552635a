"""The policy-file reference, generated from the drivers' pydantic config models.

Every key of every driver section is read from the model the driver validates that
section with (``DriverSpec.config_model``): its TOML key (the field's alias), type, default,
bounds and meaning (the field's ``description``, else its entry under ``Attributes:`` in the
model's docstring). A key added to a model appears on the site at the next build; a key
with no description fails ``tests/docs``. The page that shows it holds the line
``<!-- agentstore:policy-reference -->``.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import tomli_w
from agentstore.capabilities import CAPABILITIES
from agentstore.registry import FIRST_PARTY, default_registry
from agentstore.spec import DriverSpec, NoConfig
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

MARKER = "<!-- agentstore:policy-reference -->"
EXAMPLE_DRIVERS = ("redis", "tiny")
"""The drivers of ``examples/``, documented after the first-party ones."""


@dataclass(frozen=True)
class Key:
    """One key of a driver section, as the reference shows it."""

    key: str
    field: str
    type: str
    default: str
    meaning: str


def driver_names() -> list[str]:
    """Every driver the reference documents: the first-party ones, then the examples."""
    return [*FIRST_PARTY, *EXAMPLE_DRIVERS]


def driver_specs(names: Iterable[str] | None = None) -> list[DriverSpec]:
    """The installed specs of ``names`` (default: :func:`driver_names`).

    Raises:
        agentstore.UnknownDriver: a driver is not installed (the docs group installs all).
    """
    registry = default_registry()
    return [registry.get(name) for name in (names or driver_names())]


def docstring_attributes(model: type[BaseModel]) -> dict[str, str]:
    """Each name under ``Attributes:`` in the model's docstring, with its text on one line.

    An entry may name several fields (``host, port, user, dbname: the parts``).
    """
    doc = inspect.cleandoc(model.__doc__ or "")
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    found: dict[str, str] = {}
    names: list[str] = []
    indent: int | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break
        entry = re.match(r"^\s*([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s*:\s*(.*)$", line)
        if depth == indent and entry:
            names = [n.strip() for n in entry[1].split(",")]
            for name in names:
                found[name] = entry[2].strip()
        elif names:
            for name in names:
                found[name] = f"{found[name]} {line.strip()}".strip()
    return found


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        return " or ".join(_type(a) for a in kept)
    if origin is Literal:
        return "one of " + ", ".join(f"`{_toml(a)}`" for a in args)
    if origin in (dict, Mapping):
        return f"table of {_type(args[1])}s" if args else "table"
    if origin in (list, tuple):
        return f"array of {_type(args[0])}s" if args else "array"
    names = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        SecretStr: "string (secret)",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(info: FieldInfo) -> str:
    marks = (
        (annotated_types.Gt, ">", "gt"),
        (annotated_types.Ge, ">=", "ge"),
        (annotated_types.Lt, "<", "lt"),
        (annotated_types.Le, "<=", "le"),
    )
    shown: list[str] = []
    for meta in info.metadata:
        for kind, sign, attr in marks:
            if isinstance(meta, kind):
                shown.append(f"{sign} {getattr(meta, attr)}")
    return f" ({', '.join(shown)})" if shown else ""


def _toml(value: Any) -> str:
    """``value`` as inline TOML, as a policy file writes it."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, Mapping):
        items = ", ".join(f"{k} = {_toml(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[len("v = ") :].strip()


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return f"`{_toml(info.default_factory())}`"  # type: ignore[call-arg]
    if info.default is PydanticUndefined:
        return "required"
    if info.default is None:
        return "unset"
    return f"`{_toml(info.default)}`"


def model_keys(model: type[BaseModel]) -> list[Key]:
    """Every key of a config model, in field order."""
    documented = docstring_attributes(model)
    by_name = bool(model.model_config.get("populate_by_name"))
    # A model may name old keys it still reads with a DeprecationWarning: old -> new key.
    deprecated: Mapping[str, str] = getattr(model, "DEPRECATED_KEYS", {})
    keys: list[Key] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        meaning = (info.description or documented.get(name, "")).strip()
        old = [o for o, new in deprecated.items() if new == key]
        if old:
            names = ", ".join(f"`{o}`" for o in old)
            meaning += f" ({names}: deprecated, still read as `{key}` with a DeprecationWarning)"
        elif key != name and by_name:
            meaning += f" (`{name}` is read as the same key)"
        keys.append(Key(key, name, _type(info.annotation), _default(info), meaning))
    return keys


def _summary(model: type[BaseModel]) -> str:
    doc = inspect.cleandoc(model.__doc__ or "")
    head = doc.split("\n\n")[0]
    return " ".join(head.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_driver(spec: DriverSpec) -> str:
    """The section of one driver: its distribution, summary and a table of its keys."""
    model = spec.config_model
    origin = f"{spec.distribution} {spec.version}" if spec.distribution else "registered in code"
    lines = [f"## `[store.{spec.name}]`", "", f"Driver `{spec.name}`, from {origin}."]
    if spec.description:
        lines[-1] += f" {spec.description[0].upper()}{spec.description[1:]}."
    lines += ["", f"Model: `{model.__module__}.{model.__qualname__}`.", ""]
    keys = model_keys(model)
    if not keys or model is NoConfig:
        lines += ["This driver takes no settings: leave its section out.", ""]
        return "\n".join(lines)
    summary = _summary(model)
    if summary:
        lines += [summary, ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in keys:
        bounds = _bounds(model.model_fields[k.field])
        lines.append(
            f"| `{k.key}` | {_cell(k.type + bounds)} | {_cell(k.default)} | {_cell(k.meaning)} |"
        )
    lines.append("")
    return "\n".join(lines)


STORE_TABLE = """\
## `[store]`

| key | type | default | meaning |
|---|---|---|---|
| `backend` | a driver name | `"sqlite"` | the driver of every capability not routed elsewhere |
| `capabilities` | table of driver names, by capability | `{{}}` | routes single capabilities \
to another driver; the capabilities are {capabilities} |
| `<driver>` | table | the driver's defaults | that driver's settings: its keys are below |

`[store]` refuses any other key. A driver whose keys all have defaults needs no section. \
Any string in a driver section may be written `{{ env = "NAME" }}` instead: it is read from \
the environment when a store is opened (an unset variable is an error naming it and the \
TOML path), so secrets stay out of reviewed files. Relative paths are relative to the \
policy file's folder.
"""


def render(specs: Iterable[DriverSpec] | None = None) -> str:
    """The whole reference: the ``[store]`` table, then every driver's section."""
    chosen = list(specs) if specs is not None else driver_specs()
    capabilities = ", ".join(f"`{c}`" for c in CAPABILITIES)
    parts = [STORE_TABLE.format(capabilities=capabilities)]
    examples = [s for s in chosen if s.name in EXAMPLE_DRIVERS]
    parts += [render_driver(s) for s in chosen if s.name not in EXAMPLE_DRIVERS]
    if examples:
        parts.append(
            "## The example drivers\n\nThe two drivers under `examples/` are documented "
            "here too: they are installable distributions, and their sections are policies "
            "like any other.\n"
        )
        parts += [render_driver(s).replace("## ", "### ", 1) for s in examples]
    return "\n".join(parts)


__all__ = [
    "EXAMPLE_DRIVERS",
    "MARKER",
    "Key",
    "docstring_attributes",
    "driver_names",
    "driver_specs",
    "model_keys",
    "render",
    "render_driver",
]
