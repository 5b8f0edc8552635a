"""agentstore driver ``memory``: every capability in process memory, nothing persisted.

It is the reference for the contract's semantics. Each opened store has its own state;
all operations are thread-safe. Select it with ``backend = "memory"``.
"""

from agentstore_memory.stores import (
    MemoryCredentialStore,
    MemoryGenerationStore,
    MemoryLifecycleStore,
    MemoryLogStore,
    MemoryPolicyStore,
    MemoryRateLimitCounter,
    MemorySessionStore,
    open_memory,
)

__version__ = "0.1.0"

__all__ = [
    "MemoryCredentialStore",
    "MemoryGenerationStore",
    "MemoryLifecycleStore",
    "MemoryLogStore",
    "MemoryPolicyStore",
    "MemoryRateLimitCounter",
    "MemorySessionStore",
    "open_memory",
]
