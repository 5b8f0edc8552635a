"""The key-value substrate: every capability, written once over four primitives.

A driver supplies a :class:`KeyValue` (``get``, ``scan`` of a key range in key order, an
atomic ``commit`` guarded by expected values, ``close``) and returns
:func:`open_kv_stores` from its ``open``; the capability logic, the hash chains with
their recorded heads, and the retry of a commit that lost a race all live here. The
guarantees hold across processes exactly when the driver's ``commit`` is atomic across
processes. :class:`MemoryKeyValue` is the in-process reference.

.. code-block:: python

    from agentstore.kv import MemoryKeyValue, open_kv_stores

    def open_mine(config, context):
        return open_kv_stores(MemoryKeyValue(), context, location="memory")
"""

from agentstore.kv.governance import (
    KvCredentialStore,
    KvLifecycleStore,
    KvPolicyStore,
    KvRateLimitCounter,
    KvSessionStore,
    open_kv_stores,
)
from agentstore.kv.logs import KvGenerationStore, KvLogStore
from agentstore.kv.memory import MemoryKeyValue
from agentstore.kv.primitives import PAGE_SIZE, KeyValue, Lifetime, Pair

__all__ = [
    "PAGE_SIZE",
    "KeyValue",
    "KvCredentialStore",
    "KvGenerationStore",
    "KvLifecycleStore",
    "KvLogStore",
    "KvPolicyStore",
    "KvRateLimitCounter",
    "KvSessionStore",
    "Lifetime",
    "MemoryKeyValue",
    "Pair",
    "open_kv_stores",
]
