"""The documentation site cannot drift from the code without a failing test.

These checks read mkdocs.yml, docs/ and the READMEs, and render the generated policy-file
reference; they do not build the site (CI does: ``uv run --group docs mkdocs build
--strict``, in .ci/run), so they need neither mkdocs nor the network.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
from agentstore.registry import FIRST_PARTY, default_registry
from agentstore.spec import NoConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "docsite"))

import griffe_rst  # noqa: E402
import policy_reference  # noqa: E402
import site_includes  # noqa: E402

# The READMEs whose every `##` section must be on the site, and the sections left out on
# purpose (with why). A README section added later (logging, OpenTelemetry, the commit
# feed...) fails test_every_readme_section_is_on_the_site until a page includes it.
COVERED_READMES: dict[str, dict[str, str]] = {
    "agentstore-core/README.md": {"More": "links to the pages the site's nav already has"},
    "agentstore-sqlite/README.md": {},
    "agentstore-postgres/README.md": {},
    "agentstore-memory/README.md": {},
    "examples/thirdparty-driver/README.md": {},
    "examples/tiny-driver/README.md": {},
    "README.md": {
        # The front page repeats the core's guide in short; the site uses the guide.
        "Quick start": "getting-started.md has the core's quick start and `agentstore demo`",
        "Usage": "the core's Quick start and capability sections say it in full",
        "Install only the drivers you need": "the core's Install section",
        "The policy file": "the core's section of the same name (policy.md)",
        "The `agentstore` command": "the core's section of the same name (cli.md)",
        "Examples": "links to examples/, which the driver pages and the guide link",
        "Writing a driver, and proving it": "writing-a-driver.md is the whole guide",
        "Benchmarks": "benchmarks.md is the whole page",
        "Repository layout": "about the repository, not the library",
        "Documentation": "how to build and serve this site",
    },
}


def nav_pages() -> list[str]:
    """Every page mkdocs.yml's nav names, in order (read as text: the file holds tags
    that only mkdocs's own YAML loader knows)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text.split("\nnav:\n", 1)[1]
    pages: list[str] = []
    for line in nav.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            break
        m = re.match(r"^\s*-\s+(?:(?:\"[^\"]*\"|[^:]+):\s+)?(?P<page>\S+\.md)\s*$", line)
        if m:
            pages.append(m["page"])
    return pages


def doc_pages() -> dict[str, str]:
    return {
        p.relative_to(DOCS).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(DOCS.rglob("*.md"))
    }


def test_the_nav_names_every_page_once_and_only_pages_that_exist() -> None:
    nav = nav_pages()
    pages = set(doc_pages())
    assert len(nav) > 20
    assert sorted(p for p in set(nav) if nav.count(p) > 1) == []
    assert sorted(pages - set(nav)) == [], "pages under docs/ that mkdocs.yml's nav omits"
    assert sorted(set(nav) - pages) == [], "nav entries with no page under docs/"


def test_the_guides_tests_read_stay_where_they_are() -> None:
    # tests/conformance/test_driver_guide.py and the READMEs link these paths.
    for page in ("writing-a-driver.md", "benchmarks.md", "cli-and-drivers.md"):
        assert page in nav_pages()


def test_every_include_resolves_to_text() -> None:
    found = 0
    for page, text in doc_pages().items():
        for inc in site_includes.find_includes(page, text):
            assert site_includes.extract(inc).strip(), f"{inc} is empty"
            found += 1
    assert found > 20


def test_a_missing_heading_is_an_error_naming_the_include() -> None:
    inc = site_includes.Include(
        "x.md", "agentstore-core/README.md", "No such heading", None, "<!-- x -->"
    )
    with pytest.raises(site_includes.IncludeError, match="No such heading"):
        site_includes.extract(inc)


def included_sections() -> dict[str, set[str]]:
    """Per README, the `##` headings some page includes (a whole-file include: all)."""
    out: dict[str, set[str]] = {}
    for page, text in doc_pages().items():
        for inc in site_includes.find_includes(page, text):
            got = out.setdefault(inc.path, set())
            part = site_includes.extract(inc)
            if inc.heading is not None:
                got.add(inc.heading)
            got.update(title for _, level, title in site_includes.headings(part) if level == 2)
    return out


def test_every_readme_section_is_on_the_site() -> None:
    included = included_sections()
    missing: list[str] = []
    for readme, skipped in COVERED_READMES.items():
        text = (ROOT / readme).read_text(encoding="utf-8")
        sections = [t for _, level, t in site_includes.headings(text) if level == 2]
        assert sorted(set(skipped) - set(sections)) == [], f"{readme}: stale skips"
        for title in sections:
            if title not in skipped and title not in included.get(readme, set()):
                missing.append(f"<!-- include {readme}#{title} -->")
    assert missing == [], (
        "README sections the documentation site does not show: add each line below to the "
        "docs/ page where it belongs (a new page also needs a nav entry in mkdocs.yml), or "
        "list the section in COVERED_READMES with the reason:\n" + "\n".join(missing)
    )


def test_links_are_rewritten_to_work_on_the_site() -> None:
    site = site_includes.SiteMap.build(doc_pages())
    rewrite = site_includes.rewrite_target
    # a README section that a page includes: that page, with the heading's anchor
    assert rewrite("#the-doorbell", "agentstore-core/README.md", "async.md", site) == (
        "capabilities.md#the-doorbell"
    )
    assert rewrite("agentstore-sqlite/README.md", "README.md", "async.md", site) == (
        "drivers/sqlite.md"
    )
    # a page of docs/, from a README written for GitHub
    url = "https://github.com/agentstore/agentstore/blob/main/docs/writing-a-driver.md#x"
    assert rewrite(url, "agentstore-core/README.md", "drivers/sqlite.md", site) == (
        "../writing-a-driver.md#x"
    )
    # anything else in the repository: GitHub
    assert rewrite("../examples/tiny-driver/", "docs/writing-a-driver.md", "w.md", site) == (
        "https://github.com/agentstore/agentstore/tree/main/examples/tiny-driver"
    )
    assert rewrite("https://pypi.org/x", "README.md", "index.md", site) == "https://pypi.org/x"
    fenced = "```\n[a](agentstore-sqlite/README.md)\n```\n"
    assert site_includes.rewrite_links(fenced, "README.md", "index.md", site) == fenced
    footnote = "[^1]: a note, not a link\n"
    assert site_includes.rewrite_links(footnote, "README.md", "index.md", site) == footnote


def test_the_policy_reference_documents_every_installed_workspace_driver() -> None:
    names = policy_reference.driver_names()
    assert set(FIRST_PARTY) <= set(names)
    from_entry_points = {n for n, s in default_registry().drivers.items() if s.distribution}
    assert sorted(from_entry_points - set(names)) == [], "add it to the policy reference"


@pytest.mark.parametrize("name", policy_reference.driver_names())
def test_the_policy_reference_lists_every_field_of_every_config_model(name: str) -> None:
    page = policy_reference.render()
    (spec,) = policy_reference.driver_specs([name])
    heading = re.search(rf"^#+ `\[store\.{re.escape(name)}\]`$", page, re.MULTILINE)
    assert heading is not None, f"no section for [store.{name}]"
    section = page[heading.end() :].split("\n## ", 1)[0].split("\n### ", 1)[0]
    model = spec.config_model
    if model is NoConfig:
        assert "takes no settings" in section
        return
    assert model.model_fields, f"{model} has no field"
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        row = re.search(rf"^\| `{re.escape(key)}` \|(?P<rest>.*)\|$", section, re.MULTILINE)
        assert row is not None, f"[store.{name}] {key} is not listed"
        meaning = row["rest"].rsplit("|", 1)[-1].strip()
        assert meaning, f"[store.{name}] {key} has no description in {model.__qualname__}"


def test_the_policy_reference_page_holds_the_marker() -> None:
    text = (DOCS / "policy-reference.md").read_text(encoding="utf-8")
    assert policy_reference.MARKER in text


def test_a_field_added_to_a_model_appears_with_its_description() -> None:
    from pydantic import BaseModel, ConfigDict, Field

    class Extra(BaseModel):
        """Settings.

        Attributes:
            alpha, beta: two numbers
                on two lines.
        """

        model_config = ConfigDict(populate_by_name=True)
        alpha: int = 1
        beta: float = Field(2.0, gt=0)
        gamma: str = Field("x", alias="g", description="a letter")

    keys = {k.key: k for k in policy_reference.model_keys(Extra)}
    assert keys["alpha"].meaning == "two numbers on two lines."
    assert keys["beta"].default == "`2.0`"
    assert keys["g"].meaning.startswith("a letter")


def reference_targets() -> dict[str, list[str]]:
    """Per API reference page, the objects its ``::: name`` lines render."""
    return {
        path.name: re.findall(r"^::: (\S+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
        for path in sorted((DOCS / "reference").glob("*.md"))
    }


def test_every_public_module_has_a_reference_page() -> None:
    modules = [names[0] for names in reference_targets().values() if names]
    for module in (
        "agentstore",
        "agentstore.aio",
        "agentstore.driver",
        "agentstore.errors",
        "agentstore.types",
        "agentstore_sqlite",
        "agentstore_postgres",
        "agentstore_memory",
    ):
        assert module in modules
    for module in modules:
        assert hasattr(importlib.import_module(module), "__all__"), module


def test_every_name_agentstore_exports_is_in_the_api_reference() -> None:
    import agentstore

    shown = set(reference_targets()["agentstore.md"])
    pages = ("agentstore.capabilities", "agentstore.types", "agentstore.errors")
    elsewhere: set[str] = set()
    for module in pages:
        elsewhere.update(importlib.import_module(module).__all__)

    def on_its_own_page(name: str) -> bool:
        home = getattr(getattr(agentstore, name), "__module__", None)
        return name in elsewhere or home in pages

    missing = [
        name
        for name in agentstore.__all__
        if f"agentstore.{name}" not in shown and not on_its_own_page(name)
    ]
    assert missing == [], f"add to docs/reference/agentstore.md (::: agentstore.X): {missing}"


def test_the_cli_page_documents_the_command_it_names() -> None:
    import click

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    module = re.search(r":module: (\S+)", text)
    command = re.search(r":command: (\S+)", text)
    assert module is not None and command is not None
    group = getattr(importlib.import_module(module[1]), command[1])
    assert isinstance(group, click.Group) and {"verify", "validate", "init"} <= set(group.commands)


def test_rst_in_docstrings_becomes_markdown() -> None:
    text = (
        "See :class:`~agentstore.Store` and :meth:`load`.\n\n"
        ".. code-block:: toml\n\n    [store]\n    backend = 1\n\nAfter."
    )
    assert griffe_rst.markdown_of(text) == (
        "See `Store` and `load`.\n\n```toml\n[store]\nbackend = 1\n```\n\nAfter."
    )


def test_the_readme_says_how_to_read_the_docs_locally() -> None:
    assert "uv run --group docs mkdocs serve" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "uv run --group docs mkdocs build --strict" in (ROOT / ".ci" / "run").read_text(
        encoding="utf-8"
    )


def test_the_policy_reference_marks_the_deprecated_postgres_key() -> None:
    page = policy_reference.render()
    row = re.search(r"^\| `schema` \|.*\|$", page, re.MULTILINE)
    assert row is not None
    assert "`schema_name`: deprecated, still read as `schema` with a DeprecationWarning" in row[0]


def test_the_core_readmes_errors_table_is_one_table_naming_each_error_once() -> None:
    """A blank line once split it: the rows after it (ConfigError's) rendered as a
    paragraph of pipes, under a second, duplicated Unsupported row."""
    text = (ROOT / "agentstore-core/README.md").read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert rows == list(range(rows[0], rows[-1] + 1)), "the table is split"
    names = [re.match(r"\| `(\w+)`", lines[i]) for i in rows[2:]]
    errors = [m.group(1) for m in names if m]
    assert len(errors) == len(rows) - 2 and len(set(errors)) == len(errors), errors
    import agentstore

    for name in errors:
        assert issubclass(getattr(agentstore, name), agentstore.StoreError), name
