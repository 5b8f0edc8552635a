"""What agentstore's conformance suite needs to know about the ``tiny`` driver: each test
gets a new file in its own folder. The tamper tests use the substrate's own hook."""

from agentstore.conformance import ConformanceSupport

SUPPORT = ConformanceSupport(fresh_section=lambda s, tmp: {**s, "path": str(tmp / "t.db")})
