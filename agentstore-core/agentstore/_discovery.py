"""Installed entry points of one group, found without importing ``importlib.metadata``.

``importlib.metadata`` pulls in ``email``, ``zipfile``, ``csv`` and ``pathlib`` machinery,
about as much start-up time as the rest of opening the default store. The common case
(distributions installed as ``*.dist-info`` / ``*.egg-info`` folders on ``sys.path``) is read
here directly, with the same rules ``importlib.metadata.entry_points()`` applies: the first
distribution of a (normalized) name on ``sys.path`` wins, and entry points are read from its
``entry_points.txt``. Anything else (a zip or egg file on ``sys.path``, a custom
distribution finder on ``sys.meta_path``) is left to ``importlib.metadata`` itself.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import sys
from dataclasses import dataclass
from functools import reduce
from typing import Final

_VALUE: Final = re.compile(
    r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
)


@dataclass(frozen=True)
class FoundEntryPoint:
    """One entry point and the distribution that declares it."""

    name: str
    value: str
    distribution: str | None
    version: str | None

    def load(self) -> object:
        """Import the object the entry point names (``module`` or ``module:attr.attr``).

        Raises:
            ValueError: the value is not a module path with an optional attribute.
            ImportError, AttributeError: what importing it raised.
        """
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        module = importlib.import_module(match.group("module"))
        attrs = [a for a in (match.group("attr") or "").split(".") if a]
        return reduce(getattr, attrs, module)


def entry_points(group: str) -> list[FoundEntryPoint]:
    """The entry points of ``group``, in the order ``importlib.metadata`` lists them."""
    if not _plain_layout():
        return _from_importlib(group)
    found: list[FoundEntryPoint] = []
    seen: set[str] = set()
    header = f"[{group}]"
    for entry in sys.path:
        for folder, from_folder in _metadata_folders(entry or "."):
            meta: tuple[str | None, str | None] | None = None
            if from_folder is None:  # the folder's name does not say; the metadata's Name does
                meta = _name_version(folder)
                normalized = _normalize(meta[0] or "")
            else:
                normalized = from_folder
            if normalized in seen:
                continue
            seen.add(normalized)
            text = _read(os.path.join(folder, "entry_points.txt"))
            if text is None or header not in text:
                continue
            pairs = _section(text, group)
            if not pairs:
                continue
            name, version = meta or _name_version(folder)
            found.extend(FoundEntryPoint(n, v, name, version) for n, v in pairs)
    return found


def _plain_layout() -> bool:
    """True when every distribution ``importlib.metadata`` would see lives in a folder."""
    for finder in sys.meta_path:
        if finder is not importlib.machinery.PathFinder and hasattr(finder, "find_distributions"):
            return False
    return not any(os.path.isfile(entry) for entry in sys.path if entry)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _metadata_folders(root: str) -> list[tuple[str, str | None]]:
    """(folder, normalized distribution name) for each distribution under ``root``; the
    name is None where importlib.metadata takes it from the metadata, not the folder."""
    try:
        children = os.listdir(root)
    except OSError:
        return []
    out: list[tuple[str, str | None]] = []
    base = os.path.basename(root).lower()
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            exact = child.endswith((".dist-info", ".egg-info"))
            name = child.rpartition(".")[0].partition("-")[0]
            out.append((os.path.join(root, child), _normalize(name) if exact else None))
        elif base.endswith(".egg") and low == "egg-info":
            out.append((os.path.join(root, child), None))
    return out


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _section(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` pairs of ``[group]`` (comments and blank lines skipped)."""
    pairs: list[tuple[str, str]] = []
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line.strip("[]")
            continue
        if current == group:
            name, sep, value = line.partition("=")
            if sep:
                pairs.append((name.strip(), value.strip()))
    return pairs


def _name_version(folder: str) -> tuple[str | None, str | None]:
    """The distribution's ``Name`` and ``Version`` from its metadata headers (``METADATA``,
    else ``PKG-INFO``, as importlib.metadata reads them)."""
    text = _read(os.path.join(folder, "METADATA")) or _read(os.path.join(folder, "PKG-INFO"))
    name = version = None
    for line in (text or "").splitlines():
        if not line:
            break  # the headers end at the first empty line; the description follows
        key, sep, value = line.partition(":")
        key = key.lower()  # header names are case-insensitive, as importlib.metadata reads them
        if sep and key == "name" and name is None:
            name = value.strip()
        elif sep and key == "version" and version is None:
            version = value.strip()
    return name, version


def _from_importlib(group: str) -> list[FoundEntryPoint]:
    import importlib.metadata

    return [
        FoundEntryPoint(
            ep.name,
            ep.value,
            ep.dist.name if ep.dist is not None else None,
            ep.dist.version if ep.dist is not None else None,
        )
        for ep in importlib.metadata.entry_points(group=group)
    ]


__all__ = ["FoundEntryPoint", "entry_points"]
