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
from agentstore.conformance.contracts.counters import LifecycleContract, RateLimitContract
from agentstore.conformance.contracts.doorbell import DoorbellContract
from agentstore.conformance.contracts.generations import GenerationContract
from agentstore.conformance.contracts.governance import (
    AuditSinkContract,
    CredentialStoreContract,
    PolicyStoreContract,
    SessionStoreContract,
)
from agentstore.conformance.contracts.lifetime import StoreContract
from agentstore.conformance.contracts.primitives import WriterLogContract
from agentstore.conformance.contracts.rate_limit_hits import (
    AsyncRateLimitHitContract,
    RateLimitHitContract,
)


class AllContracts(
    StoreContract,
    GenerationContract,
    WriterLogContract,
    DoorbellContract,
    PolicyStoreContract,
    AuditSinkContract,
    SessionStoreContract,
    CredentialStoreContract,
    RateLimitContract,
    RateLimitHitContract,
    LifecycleContract,
    AsyncStoreContract,
    AsyncGenerationContract,
    AsyncWriterLogContract,
    AsyncDoorbellContract,
    AsyncPolicyStoreContract,
    AsyncAuditSinkContract,
    AsyncSessionStoreContract,
    AsyncCredentialStoreContract,
    AsyncRateLimitContract,
    AsyncRateLimitHitContract,
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
    "AsyncGenerationContract",
    "AsyncLifecycleContract",
    "AsyncPolicyStoreContract",
    "AsyncRateLimitContract",
    "AsyncRateLimitHitContract",
    "AsyncSessionStoreContract",
    "AsyncStoreContract",
    "AsyncWriterLogContract",
    "AuditSinkContract",
    "ContractBase",
    "CredentialStoreContract",
    "DoorbellContract",
    "GenerationContract",
    "LifecycleContract",
    "PolicyStoreContract",
    "RateLimitContract",
    "RateLimitHitContract",
    "SessionStoreContract",
    "StoreContract",
    "WriterLogContract",
    "capability_of",
    "run_threads",
]
