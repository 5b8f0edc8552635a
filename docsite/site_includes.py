"""The site's pages pull their prose from the READMEs, so the two cannot drift.

A page under ``docs/`` writes, on a line of its own::

    <!-- include agentstore-core/README.md#Writer logs -->
    <!-- include README.md#asyncio: the same contract, awaited | body -->
    <!-- include agentstore-postgres/README.md | intro -->

and the build puts there the section of that file under the heading named (down to the next
heading of the same or a higher level), its heading included; ``| body`` leaves the heading
out; ``| intro`` takes what stands before the file's first ``##`` heading, its ``#`` title
left out. A heading that no longer exists fails the build (and ``tests/docs``), never
silently yields an empty page.

Links are rewritten so that every one works on the site: a link into ``docs/`` becomes a
link between pages; a link to a README section that some page includes goes to that page;
anything else in the repository goes to the repository on GitHub (``REPO_URL``). Links on
the pages themselves (``../examples/tiny-driver/`` in ``docs/writing-a-driver.md``) are
rewritten the same way, so the files read well both on GitHub and on the site.

This module imports nothing from mkdocs: ``tests/docs`` checks the includes without it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REPO_URL = "https://github.com/agentstore/agentstore"
BLOB = f"{REPO_URL}/blob/main/"
TREE = f"{REPO_URL}/tree/main/"

INCLUDE = re.compile(
    r"^<!--\s*include\s+(?P<path>[^#|\s]+)(?:#(?P<heading>[^|]+?))?\s*"
    r"(?:\|\s*(?P<option>body|intro))?\s*-->[ \t]*$",
    re.MULTILINE,
)
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
# [text](target "title") and ![alt](target); reference definitions: [label]: target
INLINE_LINK = re.compile(r"(?P<open>!?\[[^\]\n]*\]\()(?P<target><[^>\n]+>|[^)\s]+)")
REFERENCE_DEF = re.compile(
    r"^(?P<open>\s{0,3}\[(?!\^)[^\]\n]+\]:\s*)(?P<target>\S+)", re.MULTILINE
)  # not footnotes: [^1]: text


class IncludeError(Exception):
    """An include names a file or heading that does not exist."""


@dataclass(frozen=True)
class Include:
    """One include line of a page."""

    page: str  # docs-relative path of the page holding the line
    path: str  # repository-relative path of the included file
    heading: str | None
    option: str | None
    line: str

    def __str__(self) -> str:
        return f"docs/{self.page}: {self.line.strip()}"


def slugify(text: str) -> str:
    """The anchor GitHub and Python-Markdown's toc (as configured in mkdocs.yml) give a
    heading: lowercase, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.strip().replace(" ", "-")


def headings(text: str) -> Iterator[tuple[int, int, str]]:
    """``(line index, level, text)`` of every ATX heading outside fenced code."""
    fenced = False
    for index, line in enumerate(text.splitlines()):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = HEADING.match(line)
        if m:
            yield index, len(m["hashes"]), m["text"]


def find_includes(page: str, text: str) -> list[Include]:
    """The include lines of a page's markdown, in order."""
    return [
        Include(page, m["path"], m["heading"] and m["heading"].strip(), m["option"], m[0])
        for m in INCLUDE.finditer(text)
    ]


def extract(include: Include) -> str:
    """The markdown an include stands for, its links still relative to its own file.

    Raises:
        IncludeError: the file or the heading does not exist.
    """
    source = ROOT / include.path
    if not source.is_file():
        raise IncludeError(f"{include}: no file {include.path}")
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = list(headings(text))
    if include.heading is None:
        if include.option == "intro":
            end = next((i for i, level, _ in found if level <= 2 and i > 0), len(lines))
            start = 1 if found and found[0][0] == 0 and found[0][1] == 1 else 0
            return "\n".join(lines[start:end]).strip() + "\n"
        return text
    for position, (index, level, title) in enumerate(found):
        if title == include.heading:
            end = next((i for i, lv, _ in found[position + 1 :] if lv <= level), len(lines))
            start = index + 1 if include.option == "body" else index
            return "\n".join(lines[start:end]).strip() + "\n"
    known = ", ".join(repr(t) for _, lv, t in found if lv <= 3)
    raise IncludeError(f"{include}: {include.path} has no heading {include.heading!r} ({known})")


def section_titles(path: str) -> list[str]:
    """Every heading text under a file's title, with the headings of its subsections."""
    text = (ROOT / path).read_text(encoding="utf-8")
    return [title for _, level, title in headings(text) if level >= 2]


@dataclass
class SiteMap:
    """Where each README section lands on the site, for rewriting links to it."""

    # (repository path, anchor) -> "page.md#anchor"; (repository path, "") -> "page.md"
    targets: dict[tuple[str, str], str]

    @classmethod
    def build(cls, pages: dict[str, str]) -> SiteMap:
        """From every page's markdown (docs-relative path -> text)."""
        targets: dict[tuple[str, str], str] = {}
        for page, text in sorted(pages.items()):
            for inc in find_includes(page, text):
                try:
                    part = extract(inc)
                except IncludeError:
                    continue
                if inc.heading is None and inc.option is None:
                    targets.setdefault((inc.path, ""), page)
                if inc.option == "body" and inc.heading:
                    targets.setdefault((inc.path, slugify(inc.heading)), page)
                for _, _, title in headings(part):
                    slug = slugify(title)
                    targets.setdefault((inc.path, slug), f"{page}#{slug}")
        return cls(targets)

    def locate(self, repo_path: str, anchor: str) -> str | None:
        """The docs-relative target of a repository path and anchor, if on the site."""
        if repo_path.startswith("docs/") and (ROOT / repo_path).is_file():
            page = repo_path.removeprefix("docs/")
            return f"{page}#{anchor}" if anchor else page
        if anchor and (repo_path, anchor) in self.targets:
            return self.targets[(repo_path, anchor)]
        return self.targets.get((repo_path, ""))


def _split_target(target: str) -> tuple[str, str]:
    path, _, anchor = target.partition("#")
    return path, anchor


def rewrite_target(target: str, source: str, page: str, site: SiteMap) -> str:
    """One link target written in repository file ``source``, as the docs page ``page``
    must write it."""
    bare = target[1:-1] if target.startswith("<") and target.endswith(">") else target
    if bare.startswith((BLOB, TREE)):
        repo_path, anchor = _split_target(bare.removeprefix(BLOB).removeprefix(TREE))
    elif re.match(r"^[a-z][a-z0-9+.-]*:", bare) or bare.startswith(("#", "/")):
        if bare.startswith("#") and source != f"docs/{page}":
            located = site.locate(source, bare[1:])
            if located is not None:
                return _relative(located, page)
            return f"{BLOB}{source}{bare}"
        return target
    else:
        path, anchor = _split_target(bare)
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if joined.startswith(".."):
            return target
        repo_path = joined
    located = site.locate(repo_path, anchor)
    if located is not None:
        return _relative(located, page)
    fragment = f"#{anchor}" if anchor else ""
    where = ROOT / repo_path
    base = TREE if where.is_dir() or repo_path.endswith("/") or not where.exists() else BLOB
    if repo_path in ("", "."):
        return f"{REPO_URL}{fragment}"
    return f"{base}{repo_path}{fragment}"


def _relative(located: str, page: str) -> str:
    path, anchor = _split_target(located)
    rel = posixpath.relpath(path, posixpath.dirname(page) or ".")
    return f"{rel}#{anchor}" if anchor else rel


def rewrite_links(text: str, source: str, page: str, site: SiteMap) -> str:
    """Every link outside fenced code, rewritten by :func:`rewrite_target`."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
            out.append(line)
            continue
        if fenced:
            out.append(line)
            continue
        linked = INLINE_LINK.sub(
            lambda m: m["open"] + rewrite_target(m["target"], source, page, site), line
        )
        out.append(
            REFERENCE_DEF.sub(
                lambda m: m["open"] + rewrite_target(m["target"], source, page, site), linked
            )
        )
    return "".join(out)


def render_page(page: str, text: str, site: SiteMap) -> str:
    """A page's markdown with every include expanded and every link working on the site.

    Raises:
        IncludeError: an include names a file or heading that does not exist.
    """
    pieces: list[str] = []
    last = 0
    for m in INCLUDE.finditer(text):
        pieces.append(rewrite_links(text[last : m.start()], f"docs/{page}", page, site))
        inc = Include(page, m["path"], m["heading"] and m["heading"].strip(), m["option"], m[0])
        pieces.append(rewrite_links(extract(inc), inc.path, page, site))
        last = m.end()
    pieces.append(rewrite_links(text[last:], f"docs/{page}", page, site))
    return "".join(pieces)


__all__ = [
    "INCLUDE",
    "Include",
    "IncludeError",
    "SiteMap",
    "extract",
    "find_includes",
    "headings",
    "render_page",
    "rewrite_links",
    "section_titles",
    "slugify",
]
