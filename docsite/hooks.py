"""mkdocs hooks (mkdocs.yml ``hooks:``): README includes, links, the generated policy page.

- ``<!-- include PATH#Heading -->`` lines pull README sections into pages (site_includes).
- Every link is rewritten to work on the site (site_includes.rewrite_links).
- ``<!-- agentstore:policy-reference -->`` becomes the policy-file reference generated from
  the drivers' config models (policy_reference).

mkdocs puts this file's folder on ``sys.path`` while loading it, hence the flat imports.
"""

from __future__ import annotations

from typing import Any

import policy_reference
import site_includes
from mkdocs.exceptions import PluginError

# Rebuilt by on_files at every build (mkdocs serve rebuilds on each save).
_site = site_includes.SiteMap({})


def on_files(files: Any, config: Any) -> Any:
    """Map each README section to the page that includes it, before any page renders."""
    pages = {
        f.src_uri: f.content_string for f in files if f.is_documentation_page() and f.abs_src_path
    }
    _site.targets = site_includes.SiteMap.build(pages).targets
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand includes and the policy reference; make every link work on the site."""
    site = _site
    try:
        text = site_includes.render_page(page.file.src_uri, markdown, site)
    except site_includes.IncludeError as exc:
        raise PluginError(str(exc)) from None
    if policy_reference.MARKER in text:
        text = text.replace(policy_reference.MARKER, policy_reference.render())
    return text
