"""A griffe extension (mkdocs.yml, mkdocstrings ``extensions:``): the reST in our docstrings
read as Markdown.

The docstrings are Google style, with a few reST habits that read well in an editor and in
``help()``: roles (``:class:`Store```, ``:meth:`~agentstore.Store.close```) and
``.. code-block:: toml`` directives. On the site a role becomes inline code (its title, or
the last part of a ``~`` target), and a directive a fenced code block.
"""

from __future__ import annotations

import re
from typing import Any

try:
    from griffe import Extension
except ImportError:  # tests/docs checks the conversion without the docs group installed
    Extension = object  # type: ignore[assignment,misc]

ROLE = re.compile(
    r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const|type):`(?P<body>[^`]+)`"
)
DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. code(?:-block)?::[ \t]*(?P<lang>\S*)[ \t]*$")


def _role(match: re.Match[str]) -> str:
    body = match["body"].strip()
    titled = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", body)
    if titled:
        return f"`{titled['title']}`"
    if body.startswith("~"):
        return f"`{body[1:].rsplit('.', 1)[-1]}`"
    return f"`{body.lstrip('!')}`"


def _directives(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m["indent"]
        block: list[str] = []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            block.pop()
        while block and not block[0].strip():
            block.pop(0)
        body = [line for line in block if line.strip()]
        depth = min((len(line) - len(line.lstrip()) for line in body), default=0)
        out.append(f"{indent}```{m['lang']}")
        out.extend(f"{indent}{line[depth:]}" if line.strip() else "" for line in block)
        out.append(f"{indent}```")
        out.append("")
    return "\n".join(out)


def markdown_of(text: str) -> str:
    """A docstring with its reST roles and code-block directives in Markdown."""
    return ROLE.sub(_role, _directives(text))


class RstToMarkdown(Extension):
    """Rewrites every docstring as it is loaded."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
