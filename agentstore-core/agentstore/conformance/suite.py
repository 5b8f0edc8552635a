"""The module ``pytest --agentstore-driver NAME`` collects: each contract once, by capability.

Not a ``test_*.py`` file, so pytest collects it only when the plugin names it; its
``agentstore_policy`` fixture comes from the plugin's by-name run.
"""

from __future__ import annotations

from agentstore.conformance.contracts import (
    AsyncAuditSinkContract,
    AsyncCredentialListingContract,
    AsyncCredentialStoreContract,
    AsyncDoorbellContract,
    AsyncFeedContract,
    AsyncGenerationContract,
    AsyncLifecycleContract,
    AsyncLifecycleManagementContract,
    AsyncPolicyListingContract,
    AsyncPolicyStoreContract,
    AsyncRateLimitContract,
    AsyncRateLimitHitContract,
    AsyncSessionManagementContract,
    AsyncSessionStoreContract,
    AsyncStoreContract,
    AsyncTenancyContract,
    AsyncWriterLogContract,
    AuditSinkContract,
    ConditionalAppendContract,
    CredentialListingContract,
    CredentialStoreContract,
    DoorbellContract,
    EncryptedCredentialContract,
    ErasureContract,
    FeedContract,
    GenerationContract,
    LifecycleContract,
    LifecycleManagementContract,
    PolicyListingContract,
    PolicyStoreContract,
    RateLimitContract,
    RateLimitHitContract,
    SessionManagementContract,
    SessionStoreContract,
    SignedCheckpointContract,
    StoreContract,
    TenantAuditContract,
    TenantCredentialContract,
    TenantFeedContract,
    TenantLifecycleContract,
    TenantNamesContract,
    TenantPolicyContract,
    TenantRateLimitContract,
    TenantSessionContract,
    WriterLogContract,
)


class TestStore(StoreContract):
    pass


class TestGeneration(GenerationContract):
    pass


class TestWriterLog(WriterLogContract):
    pass


class TestDoorbell(DoorbellContract):
    pass


class TestFeed(FeedContract):
    pass


class TestConditionalAppend(ConditionalAppendContract):
    pass


class TestErasure(ErasureContract):
    pass


class TestPolicyStore(PolicyStoreContract):
    pass


class TestAuditSink(AuditSinkContract):
    pass


class TestSessionStore(SessionStoreContract):
    pass


class TestEncryptedCredentials(EncryptedCredentialContract):
    pass


class TestSignedCheckpoints(SignedCheckpointContract):
    pass


class TestCredentialStore(CredentialStoreContract):
    pass


class TestRateLimit(RateLimitContract):
    pass


class TestRateLimitHit(RateLimitHitContract):
    pass


class TestLifecycle(LifecycleContract):
    pass


class TestPolicyListing(PolicyListingContract):
    pass


class TestSessionManagement(SessionManagementContract):
    pass


class TestCredentialListing(CredentialListingContract):
    pass


class TestLifecycleManagement(LifecycleManagementContract):
    pass


# -- the same contract through the async face (agentstore.aio) ------------------------------


class TestAsyncStore(AsyncStoreContract):
    pass


class TestAsyncGeneration(AsyncGenerationContract):
    pass


class TestAsyncWriterLog(AsyncWriterLogContract):
    pass


class TestAsyncDoorbell(AsyncDoorbellContract):
    pass


class TestAsyncFeed(AsyncFeedContract):
    pass


class TestAsyncPolicyStore(AsyncPolicyStoreContract):
    pass


class TestAsyncAuditSink(AsyncAuditSinkContract):
    pass


class TestAsyncSessionStore(AsyncSessionStoreContract):
    pass


class TestAsyncCredentialStore(AsyncCredentialStoreContract):
    pass


class TestAsyncRateLimit(AsyncRateLimitContract):
    pass


class TestAsyncRateLimitHit(AsyncRateLimitHitContract):
    pass


class TestAsyncLifecycle(AsyncLifecycleContract):
    pass


class TestAsyncPolicyListing(AsyncPolicyListingContract):
    pass


class TestAsyncSessionManagement(AsyncSessionManagementContract):
    pass


class TestAsyncCredentialListing(AsyncCredentialListingContract):
    pass


class TestAsyncLifecycleManagement(AsyncLifecycleManagementContract):
    pass


# -- tenant namespaces (store.tenant) ---------------------------------------------------------


class TestTenantNames(TenantNamesContract):
    pass


class TestTenantFeed(TenantFeedContract):
    pass


class TestTenantAudit(TenantAuditContract):
    pass


class TestTenantCredentials(TenantCredentialContract):
    pass


class TestTenantRateLimits(TenantRateLimitContract):
    pass


class TestTenantSessions(TenantSessionContract):
    pass


class TestTenantPolicies(TenantPolicyContract):
    pass


class TestTenantLifecycle(TenantLifecycleContract):
    pass


class TestAsyncTenancy(AsyncTenancyContract):
    pass


__all__ = [
    "TestAsyncAuditSink",
    "TestAsyncCredentialListing",
    "TestAsyncCredentialStore",
    "TestAsyncDoorbell",
    "TestAsyncFeed",
    "TestAsyncGeneration",
    "TestAsyncLifecycle",
    "TestAsyncLifecycleManagement",
    "TestAsyncPolicyListing",
    "TestAsyncPolicyStore",
    "TestAsyncRateLimit",
    "TestAsyncRateLimitHit",
    "TestAsyncSessionManagement",
    "TestAsyncSessionStore",
    "TestAsyncStore",
    "TestAsyncTenancy",
    "TestAsyncWriterLog",
    "TestAuditSink",
    "TestConditionalAppend",
    "TestCredentialListing",
    "TestCredentialStore",
    "TestDoorbell",
    "TestErasure",
    "TestFeed",
    "TestGeneration",
    "TestLifecycle",
    "TestLifecycleManagement",
    "TestPolicyListing",
    "TestPolicyStore",
    "TestRateLimit",
    "TestRateLimitHit",
    "TestSessionManagement",
    "TestSessionStore",
    "TestStore",
    "TestTenantAudit",
    "TestTenantCredentials",
    "TestTenantFeed",
    "TestTenantLifecycle",
    "TestTenantNames",
    "TestTenantPolicies",
    "TestTenantRateLimits",
    "TestTenantSessions",
    "TestWriterLog",
]
