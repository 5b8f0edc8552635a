"""The SQL substrate: every capability written once over a small :class:`Backend` protocol.

A SQL driver implements :class:`Backend` (connections, transactions, placeholders, error
translation) and calls :func:`open_sql_stores`; the capability logic and the versioned
schema live here, shared by every SQL driver. Where a dialect keeps the tables is a
:class:`SchemaLayout` its backend names (SQLite's lives in agentstore-sqlite).
"""

from agentstore.sql.backend import Backend, Dialect, Row, Value
from agentstore.sql.schema import (
    SCHEMA_VERSION,
    SchemaLayout,
    ensure_schema,
    layout_of,
    require_schema,
    schema_version,
)
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
    "SchemaLayout",
    "SqlCredentialStore",
    "SqlGenerationStore",
    "SqlLifecycleStore",
    "SqlLogStore",
    "SqlPolicyStore",
    "SqlRateLimitCounter",
    "SqlSessionStore",
    "Value",
    "ensure_schema",
    "layout_of",
    "open_sql_stores",
    "require_schema",
    "schema_version",
]
