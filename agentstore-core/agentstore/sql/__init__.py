"""The SQL substrate: every capability written once over a small :class:`Backend` protocol.

A SQL driver implements :class:`Backend` (connections, transactions, placeholders, error
translation) and calls :func:`open_sql_stores`; the capability logic and the versioned
schema live here, shared by every SQL driver.
"""

from agentstore.sql.backend import Backend, Dialect, Row, Value
from agentstore.sql.schema import SCHEMA_VERSION, ensure_schema, require_schema, schema_version
from agentstore.sql.stores import (
    SqlCredentialStore,
    SqlGenerationStore,
    SqlLifecycleStore,
    SqlLogStore,
    SqlPolicyStore,
    SqlRateLimitCounter,
    SqlSessionStore,
    open_sql_stores,
)

__all__ = [
    "SCHEMA_VERSION",
    "Backend",
    "Dialect",
    "Row",
    "SqlCredentialStore",
    "SqlGenerationStore",
    "SqlLifecycleStore",
    "SqlLogStore",
    "SqlPolicyStore",
    "SqlRateLimitCounter",
    "SqlSessionStore",
    "Value",
    "ensure_schema",
    "open_sql_stores",
    "require_schema",
    "schema_version",
]
