"""The contract test classes: one per capability, and :class:`AllContracts` for all of them.

Each class holds the tests of one capability of DESIGN.md. A driver author subclasses them
under a ``Test*`` name and supplies the fixture ``agentstore_policy`` (see the package
docstring of :mod:`agentstore.conformance`). The classes themselves are never collected:
their names do not start with ``Test``.
"""

from __future__ import annotations

from agentstore.conformance.contracts.aio import (
    AsyncDoorbellContract,
    AsyncGenerationContract,
    AsyncWriterLogContract,
)
from agentstore.conformance.contracts.aio_feed import AsyncFeedContract
from agentstore.conformance.contracts.aio_governance import (
    AsyncAuditSinkContract,
    AsyncCredentialStoreContract,
    AsyncLifecycleContract,
    AsyncPolicyStoreContract,
    AsyncRateLimitContract,
    AsyncSessionStoreContract,
    AsyncStoreContract,
)
from agentstore.conformance.contracts.base import (
    HELLO_WORLD_HASH,
    SECOND_HASH,
    THREADS,
    ContractBase,
    capability_of,
    run_threads,
)
from agentstore.conformance.contracts.conditional import ConditionalAppendContract
from agentstore.conformance.contracts.counters import LifecycleContract, RateLimitContract
from agentstore.conformance.contracts.doorbell import DoorbellContract
from agentstore.conformance.contracts.erasure import ErasureContract
from agentstore.conformance.contracts.feed import FeedContract
from agentstore.conformance.contracts.generations import GenerationContract
from agentstore.conformance.contracts.governance import (
    AuditSinkContract,
    CredentialStoreContract,
    PolicyStoreContract,
    SessionStoreContract,
)
from agentstore.conformance.contracts.lifetime import StoreContract
from agentstore.conformance.contracts.primitives import WriterLogContract


class AllContracts(
    StoreContract,
    GenerationContract,
    WriterLogContract,
    DoorbellContract,
    FeedContract,
    ConditionalAppendContract,
    ErasureContract,
    PolicyStoreContract,
    AuditSinkContract,
    SessionStoreContract,
    CredentialStoreContract,
    RateLimitContract,
    LifecycleContract,
    AsyncStoreContract,
    AsyncGenerationContract,
    AsyncWriterLogContract,
    AsyncDoorbellContract,
    AsyncFeedContract,
    AsyncPolicyStoreContract,
    AsyncAuditSinkContract,
    AsyncSessionStoreContract,
    AsyncCredentialStoreContract,
    AsyncRateLimitContract,
    AsyncLifecycleContract,
):
    """Every contract at once, through both faces (``agentstore.open`` and
    ``agentstore.aio.open``); each test still skips a capability the driver lacks."""


CONTRACTS: tuple[type[ContractBase], ...] = AllContracts.__bases__
"""Each contract class, in the order AllContracts combines them."""


__all__ = [
    "CONTRACTS",
    "HELLO_WORLD_HASH",
    "SECOND_HASH",
    "THREADS",
    "AllContracts",
    "AsyncAuditSinkContract",
    "AsyncCredentialStoreContract",
    "AsyncDoorbellContract",
    "AsyncFeedContract",
    "AsyncGenerationContract",
    "AsyncLifecycleContract",
    "AsyncPolicyStoreContract",
    "AsyncRateLimitContract",
    "AsyncSessionStoreContract",
    "AsyncStoreContract",
    "AsyncWriterLogContract",
    "AuditSinkContract",
    "ConditionalAppendContract",
    "ContractBase",
    "CredentialStoreContract",
    "DoorbellContract",
    "ErasureContract",
    "FeedContract",
    "GenerationContract",
    "LifecycleContract",
    "PolicyStoreContract",
    "RateLimitContract",
    "SessionStoreContract",
    "StoreContract",
    "WriterLogContract",
    "capability_of",
    "run_threads",
]
