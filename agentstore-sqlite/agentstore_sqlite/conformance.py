"""What the conformance suite needs to know about the ``sqlite`` driver.

Imported only by the conformance suite (``DriverSpec.conformance`` names it). The by-name
run gives each test a fresh database file in the test's temporary folder, whatever path
the section names, keeping its other settings; an in-memory database cannot show
persistence, so the repository's own tests run the suite on ``:memory:`` separately.
Tampering goes through :meth:`agentstore.sql.SqlLogStore.tamper`, named by
``tamper_via_log_store``.
"""

from __future__ import annotations

from pathlib import Path

from agentstore.conformance import ConformanceSupport, tamper_via_log_store
from agentstore.driver import Section


def fresh_section(section: Section, tmp_path: Path) -> Section:
    """``section`` with its path moved to a new file under ``tmp_path``."""
    return {**section, "path": str(tmp_path / "conformance.db")}


SUPPORT = ConformanceSupport(
    persistent=True, fresh_section=fresh_section, tamper=tamper_via_log_store
)
