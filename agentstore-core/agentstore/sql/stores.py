"""Every capability over a SQL :class:`~agentstore.sql.backend.Backend`: the log stores in
:mod:`agentstore.sql.logs`, the governance stores and :func:`open_sql_stores` in
:mod:`agentstore.sql.governance`. This module re-exports both."""

from agentstore.chain import Head, check_head
from agentstore.sql.governance import (
    SqlCredentialStore,
    SqlLifecycleStore,
    SqlPolicyStore,
    SqlRateLimitCounter,
    SqlSessionStore,
    open_sql_stores,
)
from agentstore.sql.logs import PAGE_SIZE, SqlGenerationStore, SqlLogStore

__all__ = [
    "PAGE_SIZE",
    "Head",
    "SqlCredentialStore",
    "SqlGenerationStore",
    "SqlLifecycleStore",
    "SqlLogStore",
    "SqlPolicyStore",
    "SqlRateLimitCounter",
    "SqlSessionStore",
    "check_head",
    "open_sql_stores",
]
