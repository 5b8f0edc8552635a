"""What the conformance suite needs to know about the ``memory`` driver.

Imported only by the conformance suite (``DriverSpec.conformance`` names it). Every open
starts empty, so no fresh-store hook is needed; tampering goes through
:meth:`MemoryLogStore.tamper`.
"""

from agentstore.conformance import ConformanceSupport, tamper_via_log_store

SUPPORT = ConformanceSupport(persistent=False, tamper=tamper_via_log_store)

__all__ = ["SUPPORT"]
