"""What the conformance suite needs to know about the ``memory`` driver.

Imported only by the conformance suite (``DriverSpec.conformance`` names it). Every open
starts empty, so no fresh-store hook is needed; tampering goes through
:meth:`MemoryLogStore.tamper`, which the suite finds on its own.
"""

from agentstore.conformance import ConformanceSupport

SUPPORT = ConformanceSupport(persistent=False)
