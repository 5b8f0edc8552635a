"""The module ``pytest --agentstore-driver NAME`` collects: each contract once, by capability.

Not a ``test_*.py`` file, so pytest collects it only when the plugin names it; its
``agentstore_policy`` fixture comes from the plugin's by-name run.
"""

from __future__ import annotations

from agentstore.conformance.contracts import (
    AsyncAuditSinkContract,
    AsyncCredentialStoreContract,
    AsyncDoorbellContract,
    AsyncGenerationContract,
    AsyncLifecycleContract,
    AsyncPolicyStoreContract,
    AsyncRateLimitContract,
    AsyncRateLimitHitContract,
    AsyncSessionStoreContract,
    AsyncStoreContract,
    AsyncWriterLogContract,
    AuditSinkContract,
    CredentialStoreContract,
    DoorbellContract,
    GenerationContract,
    LifecycleContract,
    PolicyStoreContract,
    RateLimitContract,
    RateLimitHitContract,
    SessionStoreContract,
    StoreContract,
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


class TestPolicyStore(PolicyStoreContract):
    pass


class TestAuditSink(AuditSinkContract):
    pass


class TestSessionStore(SessionStoreContract):
    pass


class TestCredentialStore(CredentialStoreContract):
    pass


class TestRateLimit(RateLimitContract):
    pass


class TestRateLimitHit(RateLimitHitContract):
    pass


class TestLifecycle(LifecycleContract):
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


__all__ = [
    "TestAsyncAuditSink",
    "TestAsyncCredentialStore",
    "TestAsyncDoorbell",
    "TestAsyncGeneration",
    "TestAsyncLifecycle",
    "TestAsyncPolicyStore",
    "TestAsyncRateLimit",
    "TestAsyncRateLimitHit",
    "TestAsyncSessionStore",
    "TestAsyncStore",
    "TestAsyncWriterLog",
    "TestAuditSink",
    "TestCredentialStore",
    "TestDoorbell",
    "TestGeneration",
    "TestLifecycle",
    "TestPolicyStore",
    "TestRateLimit",
    "TestRateLimitHit",
    "TestSessionStore",
    "TestStore",
    "TestWriterLog",
]
