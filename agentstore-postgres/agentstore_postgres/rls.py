"""Row-level security: PostgreSQL itself confines a tenant's role to that tenant's rows.

Opt-in (``row_security = true`` in ``[store.postgres]``). When the store's owner opens it
so, the schema gets, in the transaction that creates or checks it:

- ``agentstore_row_tenant(key text)``: the tenant a stored key belongs to (``''`` for the
  store's own, tenant-less rows), the same answer as
  :func:`agentstore.tenancy.names.tenant_of`, and through the ``agentstore:sliding:<0|1>:``
  prefix of a sliding window's rows (with its helper ``agentstore_tenant_part``).
  IMMUTABLE string functions the planner inlines into the policies.
- ``agentstore_tenant_roles(role, tenant)``: which PostgreSQL role acts for which tenant.
  Only the owner writes it; a bound role may read its own row and no other.
- on every table holding tenant data, ROW LEVEL SECURITY with the policy
  ``agentstore_tenant``: a row is visible to, and may be written by, a role only when
  every key column of the row names the tenant that role is bound to. A role bound to no
  tenant sees no row.

Policies apply to every role except the tables' owner, superusers and roles with
BYPASSRLS, so the operator's store (and migrations) keep the whole store. Roles are bound
with :func:`grant_tenant` and unbound with :func:`revoke_tenant`;
:func:`disable_row_security` takes it all away again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from agentstore.errors import InvalidInput, StoreError
from agentstore.tenancy import check_tenant

if TYPE_CHECKING:
    import psycopg

    from agentstore_postgres.backend import PostgresBackend
    from agentstore_postgres.config import PostgresConfig

ROW_TENANT: Final = "agentstore_row_tenant"
ROLES_TABLE: Final = "agentstore_tenant_roles"
POLICY: Final = "agentstore_tenant"
ROLES_POLICY: Final = "agentstore_own_role"
META_TABLE: Final = "agentstore_meta"

TENANT_TABLES: Final[Mapping[str, Sequence[str]]] = {
    "agentstore_generations": ("name",),
    "agentstore_log": ("stream",),
    "agentstore_log_heads": ("stream",),
    "agentstore_credentials": ("name",),
    "agentstore_rate_limits": ("key",),
    "agentstore_policies": ("agent_id",),
    "agentstore_sessions": ("session_id", "agent_id"),
    "agentstore_agents": ("agent_id",),
}
"""Every table holding tenant data, and the columns whose keys name a row's tenant. A
table added here reaches roles already bound when :func:`grant_tenant` runs again."""

LOG_TABLE: Final = "agentstore_log"
LOG_INSERT: Final = ("stream", "writer", "seq", "payload", "prev_hash", "content_hash", "idx")
LOG_UPDATE: Final = ("payload", "redacted")
"""The log columns a bound role may insert and update: what the store writes (an entry,
a redaction). Never ``tx``: it takes the writing transaction's id, and ``(tx, idx)`` is
unique across the schema, so a role choosing it could plant rows at the ids of other
tenants' transactions to come (their appends then fail) or far in the future (the
owner's feed reads then wait on them)."""

TENANT_PART: Final = "agentstore_tenant_part"
_LABEL_CHECK: Final = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_LABEL_CHARS: Final = "abcdefghijklmnopqrstuvwxyz0123456789-"

# tenant_of without a regular expression (PostgreSQL's cost about 10 us a row, string
# functions well under 1): the prefix, a DNS label ending at the first ':' (1 to 63
# characters of a-z, 0-9 and '-', not starting or ending with '-'), then a non-empty
# key. Single expressions, so the planner inlines them; the body is parsed under the
# caller's search_path, so every function and operator in it is named with its schema.


def _op(left: str, op: str, right: str) -> str:
    # OPERATOR() syntax binds as any other operator: every use gets its parentheses.
    return f"({left} OPERATOR(pg_catalog.{op}) {right})"


_REST: Final = "pg_catalog.substr(k, 14)"
_COLON: Final = f"pg_catalog.strpos({_REST}, ':')"
_LABEL: Final = f"pg_catalog.split_part({_REST}, ':', 1)"
_TENANT_PART_BODY: Final = " AND ".join(
    (
        "pg_catalog.starts_with(k, 'agentstore:t:')",
        _op(_COLON, ">=", "2"),
        _op(_COLON, "<=", "64"),
        _op("pg_catalog.length(k)", ">", _op("13", "+", _COLON)),
        _op(f"pg_catalog.translate({_LABEL}, '{_LABEL_CHARS}', '')", "=", "''"),
        _op("pg_catalog.substr(k, 14, 1)", "<>", "'-'"),
        _op(f"pg_catalog.substr(k, {_op('12', '+', _COLON)}, 1)", "<>", "'-'"),
    )
)
_CREATE_TENANT_PART: Final = (
    "CREATE OR REPLACE FUNCTION {schema}." + TENANT_PART + "(k text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    f"$$SELECT CASE WHEN {_TENANT_PART_BODY} THEN {_LABEL} ELSE '' END$$"
)
# A sliding window's rows put agentstore:sliding:<0|1>: before the tenant's key.
_WINDOW: Final = "pg_catalog.substr(key, 20, 2)"
_CREATE_ROW_TENANT: Final = (
    "CREATE OR REPLACE FUNCTION {schema}." + ROW_TENANT + "(key text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$SELECT CASE "
    "WHEN pg_catalog.starts_with(key, 'agentstore:sliding:') "
    f"AND ({_op(_WINDOW, '=', chr(39) + '0:' + chr(39))} "
    f"OR {_op(_WINDOW, '=', chr(39) + '1:' + chr(39))}) "
    "THEN {schema}." + TENANT_PART + "(pg_catalog.substr(key, 22)) "
    "ELSE {schema}." + TENANT_PART + "(key) END$$"
)
_CREATE_ROLES: Final = (
    f"CREATE TABLE IF NOT EXISTS {ROLES_TABLE} (role name PRIMARY KEY, tenant text NOT NULL "
    f"CONSTRAINT agentstore_tenant_roles_tenant CHECK (tenant ~ '{_LABEL_CHECK}'))"
)
_MY_TENANT: Final = f"(SELECT r.tenant FROM {ROLES_TABLE} AS r WHERE r.role = current_user)"


def _policy_expr(columns: Sequence[str]) -> str:
    return " AND ".join(f"{ROW_TENANT}({c}) = {_MY_TENANT}" for c in columns)


def install_statements(schema: str) -> list[str]:
    """The DDL :func:`install` runs in ``schema`` (which must come first on the
    search_path), each statement idempotent (run as the owner)."""
    out = [
        _CREATE_TENANT_PART.replace("{schema}", _quote(schema)),
        _CREATE_ROW_TENANT.replace("{schema}", _quote(schema)),
        _CREATE_ROLES,
        f"ALTER TABLE {ROLES_TABLE} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {ROLES_POLICY} ON {ROLES_TABLE}",
        f"CREATE POLICY {ROLES_POLICY} ON {ROLES_TABLE} FOR SELECT USING (role = current_user)",
    ]
    for table, columns in TENANT_TABLES.items():
        expr = _policy_expr(columns)
        out += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY} ON {table}",
            f"CREATE POLICY {POLICY} ON {table} USING ({expr}) WITH CHECK ({expr})",
        ]
    return out


# How many of the store's tables have RLS on with agentstore's policy, in the current
# schema, and whether the functions exist (the one created first stands for both).
_STATE: Final = (
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid "
    "WHERE n.nspname = current_schema() AND c.relrowsecurity AND ("
    "(c.relname = ANY(%s) AND p.polname = %s) OR (c.relname = %s AND p.polname = %s))), "
    "to_regprocedure(%s) IS NOT NULL"
)


def installed(backend: PostgresBackend) -> bool:
    """True when the schema has every piece :func:`install` puts there."""
    params = (list(TENANT_TABLES), POLICY, ROLES_TABLE, ROLES_POLICY, f"{TENANT_PART}(text)")
    row = backend.run(lambda cur: cur.execute(_STATE, params).fetchone(), "checking RLS")
    return row is not None and row[0] == len(TENANT_TABLES) + 1 and bool(row[1])


def install(backend: PostgresBackend) -> None:
    """Install row-level security in the backend's current schema (the owner's
    connection, inside the schema's setup transaction). Idempotent."""

    def run(cur: psycopg.Cursor[Any]) -> None:
        row = cur.execute("SELECT current_schema()").fetchone()
        if row is None or row[0] is None:
            raise StoreError("the search_path names no existing schema")
        for statement in install_statements(str(row[0])):
            cur.execute(statement.encode())

    backend.run(run, "installing row-level security", atomic=True)


# Whether this connection's role is subject to RLS on the log (no COPY then), and whether
# the schema has RLS on at all (announcements then carry no names).
_SESSION: Final = (
    "SELECT c.relrowsecurity, row_security_active(c.oid) FROM pg_catalog.pg_class c "
    "WHERE c.oid = to_regclass('agentstore_log')"
)


def session_flags(backend: PostgresBackend) -> tuple[bool, bool]:
    """``(installed on the schema, applies to this connection's role)`` for the log."""
    row = backend.run(lambda cur: cur.execute(_SESSION).fetchone(), "checking RLS")
    if row is None:
        return False, False
    return bool(row[0]), bool(row[1])


# -- the operator's API ----------------------------------------------------------------------


def grant_tenant(
    target: str | PostgresConfig | psycopg.Connection[Any],
    *,
    role: str,
    tenant: str,
    schema: str | None = None,
) -> None:
    """Bind the PostgreSQL ``role`` to ``tenant`` and grant it what a store needs.

    Run as the store's owner (or a superuser), once row-level security is installed (the
    owner opened the store with ``row_security = true``). In one transaction: records
    ``role`` -> ``tenant`` in ``agentstore_tenant_roles``, and grants ``role`` USAGE on
    the schema, SELECT on ``agentstore_meta`` and its own mapping row, and SELECT,
    INSERT, UPDATE, DELETE on the tables holding tenant data (where the policies then
    confine it to ``tenant``'s rows), on the log INSERT and UPDATE of the columns in
    :data:`LOG_INSERT` and :data:`LOG_UPDATE` only (never ``tx``, the position). Granting
    again to the same tenant changes nothing (for a role granted by an older version, it
    takes the log's table-wide INSERT and UPDATE back).

    Args:
        target: a ``postgresql://`` url or libpq string, a :class:`PostgresConfig`, or an
            open psycopg connection (the caller's; not closed).
        role: an existing role; not a superuser, not one with BYPASSRLS, not the tables'
            owner nor a member of it (for those the policies would not apply).
        tenant: a tenant name (:func:`agentstore.tenancy.check_tenant`).
        schema: the store's schema (default: the config's, else ``agentstore``; on a
            connection, its current schema).

    Raises:
        InvalidInput: a bad tenant or role name. Nothing was changed.
        StoreError: the role does not exist, would bypass the policies, is bound to
            another tenant, or row-level security is not installed. Nothing was changed.
    """
    check_tenant(tenant)
    _check_role(role)
    with _OwnerConnection(target, schema) as (conn, name):
        from psycopg import sql

        with conn.transaction():
            _require_installed(conn, name)
            _check_role_may_bind(conn, role, name)
            bound = conn.execute(
                sql.SQL("SELECT tenant FROM {}.{} WHERE role = %s").format(
                    sql.Identifier(name), sql.Identifier(ROLES_TABLE)
                ),
                (role,),
            ).fetchone()
            if bound is not None and bound[0] != tenant:
                raise StoreError(
                    f"role {role!r} is bound to tenant {bound[0]!r} in schema {name!r}: "
                    "revoke_tenant() it first. Nothing was changed."
                )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.{} (role, tenant) VALUES (%s, %s) ON CONFLICT DO NOTHING"
                ).format(sql.Identifier(name), sql.Identifier(ROLES_TABLE)),
                (role, tenant),
            )
            who = sql.Identifier(role)
            schema_id = sql.Identifier(name)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema_id, who))
            read = sql.SQL(", ").join(sql.Identifier(name, t) for t in (META_TABLE, ROLES_TABLE))
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(read, who))
            tables = sql.SQL(", ").join(sql.Identifier(name, t) for t in TENANT_TABLES)
            conn.execute(sql.SQL("GRANT SELECT, DELETE ON {} TO {}").format(tables, who))
            keyed = sql.SQL(", ").join(
                sql.Identifier(name, t) for t in TENANT_TABLES if t != LOG_TABLE
            )
            conn.execute(sql.SQL("GRANT INSERT, UPDATE ON {} TO {}").format(keyed, who))
            # The log's tx is a position the unique (tx, idx) shares across tenants: never
            # the role's to write (granting again takes a table-wide privilege back first).
            log_table = sql.Identifier(name, LOG_TABLE)
            conn.execute(sql.SQL("REVOKE INSERT, UPDATE ON {} FROM {}").format(log_table, who))
            for privilege, columns in (("INSERT", LOG_INSERT), ("UPDATE", LOG_UPDATE)):
                conn.execute(
                    sql.SQL("GRANT {} ({}) ON {} TO {}").format(
                        sql.SQL(privilege),
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        log_table,
                        who,
                    )
                )


def revoke_tenant(
    target: str | PostgresConfig | psycopg.Connection[Any],
    *,
    role: str,
    schema: str | None = None,
) -> str | None:
    """Unbind ``role`` and revoke every privilege on the store's schema and tables from
    it, in one transaction; the tenant it was bound to, or None. Idempotent."""
    _check_role(role)
    with _OwnerConnection(target, schema) as (conn, name), conn.transaction():
        return _revoke(conn, name, role)


def disable_row_security(
    target: str | PostgresConfig | psycopg.Connection[Any],
    *,
    schema: str | None = None,
) -> list[str]:
    """Take row-level security out of the store's schema, in one transaction: every
    bound role loses its privileges there first (without the policies they would read
    every tenant's rows), then the policies, the mapping table and the function go.

    Returns the roles that were bound. Idempotent. Open the store without
    ``row_security = true`` afterwards, or the next open installs it again.
    """
    with _OwnerConnection(target, schema) as (conn, name), conn.transaction():
        from psycopg import sql

        table = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{_quote(name)}.{ROLES_TABLE}",)
        ).fetchone()
        roles: list[str] = []
        if table and table[0]:
            found = conn.execute(
                sql.SQL("SELECT role FROM {}.{} ORDER BY role").format(
                    sql.Identifier(name), sql.Identifier(ROLES_TABLE)
                )
            ).fetchall()
            roles = [str(r[0]) for r in found]
        for role in roles:
            _revoke(conn, name, role)
        for t in TENANT_TABLES:
            ident = sql.Identifier(name, t)
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{_quote(name)}.{t}",))
            if not (exists.fetchone() or (False,))[0]:
                continue
            conn.execute(
                sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(POLICY), ident)
            )
            conn.execute(sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(ident))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name, ROLES_TABLE)))
        for fn in (ROW_TENANT, TENANT_PART):
            conn.execute(
                sql.SQL("DROP FUNCTION IF EXISTS {}(text)").format(sql.Identifier(name, fn))
            )
        return roles


def _revoke(conn: psycopg.Connection[Any], name: str, role: str) -> str | None:
    from psycopg import sql

    exists = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,))
    if exists.fetchone() is None:
        raise StoreError(f"role {role!r} does not exist. Nothing was changed.")
    bound: str | None = None
    if _table_exists(conn, name, ROLES_TABLE):
        row = conn.execute(
            sql.SQL("DELETE FROM {}.{} WHERE role = %s RETURNING tenant").format(
                sql.Identifier(name), sql.Identifier(ROLES_TABLE)
            ),
            (role,),
        ).fetchone()
        bound = None if row is None else str(row[0])
    who = sql.Identifier(role)
    tables = [t for t in (*TENANT_TABLES, META_TABLE, ROLES_TABLE) if _table_exists(conn, name, t)]
    if tables:
        listed = sql.SQL(", ").join(sql.Identifier(name, t) for t in tables)
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(listed, who))
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(name), who))
    return bound


def _table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{_quote(schema)}.{table}",)
    ).fetchone()
    return bool(row and row[0])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_role(role: object) -> None:
    if not isinstance(role, str) or not role or "\x00" in role:
        raise InvalidInput(f"role must be a non-empty str naming a PostgreSQL role, not {role!r}")
    if len(role.encode()) > 63:
        raise InvalidInput(f"role name {role[:70]!r} is longer than PostgreSQL's 63 bytes")


def _require_installed(conn: psycopg.Connection[Any], schema: str) -> None:
    params = (
        schema,
        list(TENANT_TABLES),
        POLICY,
        ROLES_TABLE,
        ROLES_POLICY,
        f"{_quote(schema)}.{TENANT_PART}(text)",
    )
    row = conn.execute(_STATE.replace("current_schema()", "%s"), params).fetchone()
    if row is None or row[0] != len(TENANT_TABLES) + 1 or not row[1]:
        raise StoreError(
            f"row-level security is not installed in schema {schema!r}: open the store once "
            "as its owner with row_security = true in [store.postgres]. Nothing was changed."
        )


def _check_role_may_bind(conn: psycopg.Connection[Any], role: str, schema: str) -> None:
    row = conn.execute(
        "SELECT r.rolsuper, r.rolbypassrls, pg_has_role(r.oid, c.relowner, 'MEMBER') "
        "FROM pg_catalog.pg_roles r, pg_catalog.pg_class c "
        "WHERE r.rolname = %s AND c.oid = to_regclass(%s)",
        (role, f"{_quote(schema)}.agentstore_log"),
    ).fetchone()
    if row is None:
        raise StoreError(f"role {role!r} does not exist: create it first. Nothing was changed.")
    superuser, bypass, owner = row
    if superuser or bypass or owner:
        why = "a superuser" if superuser else "BYPASSRLS" if bypass else "the tables' owner"
        raise StoreError(
            f"role {role!r} is {why}: row-level security does not apply to it, so it "
            "cannot be confined to a tenant. Nothing was changed."
        )


class _OwnerConnection:
    """An autocommit connection for the operator's calls, and the schema they act on."""

    def __init__(self, target: Any, schema: str | None) -> None:
        self._target = target
        self._schema = schema
        self._owned: psycopg.Connection[Any] | None = None
        self._where = "the server"
        self._secrets: list[str] = []

    def __enter__(self) -> tuple[psycopg.Connection[Any], str]:
        import psycopg

        from agentstore_postgres.config import DEFAULT_SCHEMA, PostgresConfig, config_from
        from agentstore_postgres.connect import connect

        target = self._target
        if isinstance(target, psycopg.Connection):
            conn = target
            info = conn.info
            self._where = f"{info.host}:{info.port}/{info.dbname}"
            self._secrets = [info.password] if info.password else []
            name = self._schema
            if name is None:
                row = conn.execute("SELECT current_schema()").fetchone()
                name = None if row is None else row[0]
                if name is None:
                    raise StoreError("the connection's search_path names no existing schema")
            return conn, name
        if isinstance(target, str):
            config = config_from({"url": target, "schema": self._schema or DEFAULT_SCHEMA})
        elif isinstance(target, PostgresConfig):
            config = target
            if self._schema is not None:
                config = config_from({**target.model_dump(by_alias=True), "schema": self._schema})
        else:
            raise InvalidInput(
                "target must be a postgresql:// url, a PostgresConfig or a psycopg "
                f"connection, not {type(target).__name__}"
            )
        self._where, self._secrets = config.target, config.secrets()
        self._owned = connect(config, schema=False)
        return self._owned, config.schema_name

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        import psycopg

        from agentstore_postgres.backend import ErrorTranslator, Scrubber

        if self._owned is not None:
            self._owned.close()
        if isinstance(exc, psycopg.Error) and not isinstance(exc, StoreError):
            where = self._where
            ErrorTranslator(where, Scrubber(self._secrets))(exc, "managing row-level security")


__all__ = [
    "LOG_INSERT",
    "LOG_TABLE",
    "LOG_UPDATE",
    "POLICY",
    "ROLES_TABLE",
    "ROW_TENANT",
    "TENANT_TABLES",
    "disable_row_security",
    "grant_tenant",
    "install",
    "install_statements",
    "installed",
    "revoke_tenant",
]
