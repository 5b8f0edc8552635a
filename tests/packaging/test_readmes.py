"""Every distribution's README stands alone on the package index, which renders it as the
project's description and cannot follow a link relative to the repository: it says what the
distribution is, how to install it, shows code, and links only to absolute addresses. Every
pyproject names that README and the project's addresses.
"""

from __future__ import annotations

import re

import pytest
from readme_blocks import DIST_FOLDERS, REPOSITORY, ROOT, blocks, link_targets, pyproject, readme

DISTS = sorted(DIST_FOLDERS)


@pytest.mark.parametrize("dist", DISTS)
def test_pyproject_names_its_own_readme(dist: str) -> None:
    project = pyproject(dist)
    assert project["name"] == dist
    assert project["readme"] == "README.md"
    assert readme(dist).is_file()


@pytest.mark.parametrize("dist", DISTS)
def test_pyproject_gives_the_project_urls(dist: str) -> None:
    urls = pyproject(dist).get("urls")
    assert isinstance(urls, dict), f"{dist}: no [project.urls]"
    assert urls["Homepage"] == REPOSITORY
    assert urls["Repository"] == REPOSITORY
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    assert urls["Documentation"] == f"{REPOSITORY}/blob/main/{DIST_FOLDERS[dist]}/README.md"
    for label, url in urls.items():
        assert url.startswith(f"{REPOSITORY}"), f"{dist}: {label} = {url}"


@pytest.mark.parametrize("dist", DISTS)
def test_readme_links_are_absolute_and_lead_somewhere(dist: str) -> None:
    targets = link_targets(readme(dist))
    relative = [t for t in targets if not t.startswith(("https://", "http://", "mailto:"))]
    assert relative == [], f"{dist}: links PyPI cannot follow: {relative}"
    # a link into the repository names a file or folder that exists on this branch
    for target in targets:
        for kind in ("blob", "tree"):
            prefix = f"{REPOSITORY}/{kind}/main/"
            if target.startswith(prefix):
                local = ROOT / target.removeprefix(prefix).split("#")[0]
                assert local.exists(), f"{dist}: {target} names nothing in the repository"
        if target.startswith("https://github.com/"):
            assert target == REPOSITORY or target.startswith(f"{REPOSITORY}/"), target


@pytest.mark.parametrize("dist", DISTS)
def test_readme_says_what_it_is_how_to_install_and_shows_code(dist: str) -> None:
    path = readme(dist)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {dist}\n"), f"{dist}: the README's title is the distribution"
    assert re.search(rf"pip install [^\n]*\b{re.escape(dist)}\b", text), f"{dist}: no install"
    assert any(b.lang == "python" for b in blocks(path)), f"{dist}: no Python example"


def test_the_core_readme_is_the_guide() -> None:
    """The core's page is where a user of any driver learns the whole library."""
    text = readme("agentstore-core").read_text(encoding="utf-8")
    expected = [
        # every capability, reached through the facade
        "store.generation(",
        "store.log(",
        "store.doorbell",
        "store.policies",
        "store.audit",
        "store.sessions",
        "store.credentials",
        "store.rate_limits",
        "store.lifecycle",
        # the policy, the command, the drivers, the errors
        "[store.capabilities]",
        '{ env = "',
        "agentstore validate",
        "agentstore verify",
        "agentstore drivers",
        "agentstore init",
        "agentstore demo",
        "agentstore-sqlite",
        "agentstore-postgres",
        "agentstore-memory",
        "--agentstore-driver",
        "StoreError",
        "NotFound",
        "ChainBroken",
        "BackendUnavailable",
        "InvalidInput",
        "ConfigError",
        "SchemaVersionError",
        # limits and reserved names a user meets
        "agentstore:audit",
        "16 MiB",
        "255",
        # what a user relies on since issue 12: read-only opens, fork, values, declarations
        "read_only=True",
        "os.fork()",
        "nested at most 64 levels",
        "read-only `dict`",
        "2**63-1",
        "aa-storage",
        "no [store] table",
        "unused",
        "exits 130",
        "validate  [PATH] [--json]",
        "python -m agentstore`",
        "cross_process=True",
        "tamper_evident=False",
    ]
    missing = [phrase for phrase in expected if phrase not in text]
    assert missing == []
