"""The distributions' READMEs and the code blocks in them (helpers, not fixtures).

A uniquely named module: test files import from here, never from ``conftest``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/agentstore/agentstore"
"""The canonical repository: every link a README gives into the project starts with it."""

DIST_FOLDERS = {
    "agentstore-core": "agentstore-core",
    "agentstore-memory": "agentstore-memory",
    "agentstore-sqlite": "agentstore-sqlite",
    "agentstore-postgres": "agentstore-postgres",
    "agentstore-redis": "examples/thirdparty-driver",
    "agentstore-tiny": "examples/tiny-driver",
}
"""Each published distribution and the folder of its pyproject.toml and README.md."""

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def pyproject(dist: str) -> dict[str, object]:
    with (ROOT / DIST_FOLDERS[dist] / "pyproject.toml").open("rb") as f:
        project: dict[str, object] = tomllib.load(f)["project"]
    return project


def readme(dist: str) -> Path:
    return ROOT / DIST_FOLDERS[dist] / "README.md"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of ``path``, in order, dedented by their fence's indent."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j].removeprefix(indent))
            j += 1
        info = opening["info"].strip().split()
        found.append(Block(path, i + 1, info[0] if info else "", "\n".join(body) + "\n"))
        i = j + 1
    return found


def prose(path: Path) -> str:
    """The text of ``path`` outside its code blocks (where links are written)."""
    text = path.read_text(encoding="utf-8")
    out: list[str] = []
    inside: str | None = None
    for line in text.splitlines():
        opening = _FENCE.match(line)
        if inside is None and opening is not None:
            inside = opening["fence"]
        elif inside is not None and line.strip() == inside:
            inside = None
        elif inside is None:
            out.append(line)
    return "\n".join(out)


_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def link_targets(path: Path) -> list[str]:
    """Every link and image target written in the prose of a Markdown file."""
    text = prose(path)
    return [
        m.group(1)
        for pattern in (_INLINE_LINK, _REFERENCE_LINK, _HTML_LINK)
        for m in pattern.finditer(text)
    ]
