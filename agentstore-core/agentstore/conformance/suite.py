"""The module ``pytest --agentstore-driver NAME`` collects: each contract once, by capability.

Not a ``test_*.py`` file, so pytest collects it only when the plugin names it; its
``agentstore_policy`` fixture comes from the plugin's by-name run.
"""

from __future__ import annotations

from agentstore.conformance.contracts import (
    AsyncAuditSinkContract,
    AsyncCredentialStoreContract,
    AsyncDoorbellContract,
    AsyncFeedContract,
    AsyncGenerationContract,
    AsyncLifecycleContract,
    AsyncPolicyStoreContract,
    AsyncRateLimitContract,
    AsyncSessionStoreContract,
    AsyncStoreContract,
    AsyncWriterLogContract,
    AuditSinkContract,
    ConditionalAppendContract,
    CredentialStoreContract,
    DoorbellContract,
    ErasureContract,
    FeedContract,
    GenerationContract,
    LifecycleContract,
    PolicyStoreContract,
    RateLimitContract,
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


class TestCredentialStore(CredentialStoreContract):
    pass


class TestRateLimit(RateLimitContract):
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


class TestAsyncLifecycle(AsyncLifecycleContract):
    pass


__all__ = [
    "TestAsyncAuditSink",
    "TestAsyncCredentialStore",
    "TestAsyncDoorbell",
    "TestAsyncFeed",
    "TestAsyncGeneration",
    "TestAsyncLifecycle",
    "TestAsyncPolicyStore",
    "TestAsyncRateLimit",
    "TestAsyncSessionStore",
    "TestAsyncStore",
    "TestAsyncWriterLog",
    "TestAuditSink",
    "TestConditionalAppend",
    "TestCredentialStore",
    "TestDoorbell",
    "TestErasure",
    "TestFeed",
    "TestGeneration",
    "TestLifecycle",
    "TestPolicyStore",
    "TestRateLimit",
    "TestSessionStore",
    "TestStore",
    "TestWriterLog",
]
