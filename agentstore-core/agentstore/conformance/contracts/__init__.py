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
from agentstore.conformance.contracts.aio_management import (
    AsyncCredentialListingContract,
    AsyncLifecycleManagementContract,
    AsyncPolicyListingContract,
    AsyncSessionManagementContract,
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
from agentstore.conformance.contracts.encryption import (
    EncryptedCredentialContract,
    SignedCheckpointContract,
)
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
from agentstore.conformance.contracts.management import (
    CredentialListingContract,
    LifecycleManagementContract,
    PolicyListingContract,
    SessionManagementContract,
)
from agentstore.conformance.contracts.primitives import WriterLogContract
from agentstore.conformance.contracts.rate_limit_hits import (
    AsyncRateLimitHitContract,
    RateLimitHitContract,
)
from agentstore.conformance.contracts.tenancy import (
    AsyncTenancyContract,
    TenantAuditContract,
    TenantCredentialContract,
    TenantFeedContract,
    TenantLifecycleContract,
    TenantNamesContract,
    TenantPolicyContract,
    TenantRateLimitContract,
    TenantSessionContract,
)


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
    EncryptedCredentialContract,
    SignedCheckpointContract,
    RateLimitContract,
    RateLimitHitContract,
    LifecycleContract,
    PolicyListingContract,
    SessionManagementContract,
    CredentialListingContract,
    LifecycleManagementContract,
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
    AsyncRateLimitHitContract,
    AsyncLifecycleContract,
    AsyncPolicyListingContract,
    AsyncSessionManagementContract,
    AsyncCredentialListingContract,
    AsyncLifecycleManagementContract,
    TenantNamesContract,
    TenantFeedContract,
    TenantAuditContract,
    TenantCredentialContract,
    TenantRateLimitContract,
    TenantSessionContract,
    TenantPolicyContract,
    TenantLifecycleContract,
    AsyncTenancyContract,
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
    "AsyncCredentialListingContract",
    "AsyncCredentialStoreContract",
    "AsyncDoorbellContract",
    "AsyncFeedContract",
    "AsyncGenerationContract",
    "AsyncLifecycleContract",
    "AsyncLifecycleManagementContract",
    "AsyncPolicyListingContract",
    "AsyncPolicyStoreContract",
    "AsyncRateLimitContract",
    "AsyncRateLimitHitContract",
    "AsyncSessionManagementContract",
    "AsyncSessionStoreContract",
    "AsyncStoreContract",
    "AsyncTenancyContract",
    "AsyncWriterLogContract",
    "AuditSinkContract",
    "ConditionalAppendContract",
    "ContractBase",
    "CredentialListingContract",
    "CredentialStoreContract",
    "DoorbellContract",
    "EncryptedCredentialContract",
    "ErasureContract",
    "FeedContract",
    "GenerationContract",
    "LifecycleContract",
    "LifecycleManagementContract",
    "PolicyListingContract",
    "PolicyStoreContract",
    "RateLimitContract",
    "RateLimitHitContract",
    "SessionManagementContract",
    "SessionStoreContract",
    "SignedCheckpointContract",
    "StoreContract",
    "TenantAuditContract",
    "TenantCredentialContract",
    "TenantFeedContract",
    "TenantLifecycleContract",
    "TenantNamesContract",
    "TenantPolicyContract",
    "TenantRateLimitContract",
    "TenantSessionContract",
    "WriterLogContract",
    "capability_of",
    "run_threads",
]
