"""Row-level security (``row_security = true``): a role bound to tenant b reads and writes
only b's rows, through the store and through hand-written SQL, and cannot undo that."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import agentstore
import agentstore_postgres
import psycopg
import pytest
from agentstore import AgentId, PolicyDocument, SessionId, SessionRecord, StorePolicy
from agentstore.crypto.signing import Signer
from agentstore.errors import InvalidInput, NotFound, StoreError
from agentstore.tenancy import tenant_key, tenant_of
from agentstore_postgres.rls import POLICY, ROLES_TABLE, TENANT_TABLES
from psycopg import sql

UUID_TABLES = ("agentstore_policies", "agentstore_sessions", "agentstore_agents")


def role_url(pg_url: str, role: str) -> str:
    parts = urlsplit(pg_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def policy(url: str, schema: str, **extra: object) -> StorePolicy:
    return StorePolicy("postgres", sections={"postgres": {"url": url, "schema": schema, **extra}})


@pytest.fixture
def make_role(pg_conn: psycopg.Connection[Any]) -> Iterator[Any]:
    """Creates LOGIN roles with fresh names (trust auth); drops them and their grants after."""
    made: list[str] = []

    def make(suffix: str = "") -> str:
        name = f"agentstore_rls_{uuid.uuid4().hex[:10]}{suffix}"
        pg_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    for name in made:
        pg_conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        pg_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def owner(pg_url: str, pg_schema: str) -> Iterator[agentstore.Store]:
    """The operator's store, opened with row security on, holding rows of tenants a and
    b and of the root in every table."""
    store = agentstore.open(policy(pg_url, pg_schema, row_security=True))
    try:
        for who, view in (("a", store.tenant("a")), ("b", store.tenant("b")), ("", store)):
            view.log("s", writer="w").append(f"{who} entry".encode())
            view.generation("g").bump()
            view.credentials.put_secret("k", f"{who} secret".encode())
            view.rate_limits.hit("fixed", 5, 60)
            view.rate_limits.hit("slide", 5, 60, strategy="sliding")
        raw = psycopg.connect(pg_url, autocommit=True, options=f"-c search_path={pg_schema}")
        for who in ("a", "b", None):
            agent = str(uuid.uuid4())
            session = str(uuid.uuid4())
            if who is not None:
                agent, session = tenant_key(who, agent), tenant_key(who, session)
            raw.execute(
                "INSERT INTO agentstore_policies (agent_id, document) VALUES (%s, '{}')",
                (agent,),
            )
            raw.execute(
                "INSERT INTO agentstore_sessions (session_id, agent_id, data) "
                "VALUES (%s, %s, '{}')",
                (session, agent),
            )
            raw.execute(
                "INSERT INTO agentstore_agents (agent_id, registered_at, last_heartbeat) "
                "VALUES (%s, 1.0, 1.0)",
                (agent,),
            )
        raw.close()
        yield store
    finally:
        store.close()


@pytest.fixture
def role_b(pg_url: str, pg_schema: str, owner: agentstore.Store, make_role: Any) -> str:
    """A LOGIN role bound to tenant b; its url."""
    role = make_role()
    agentstore_postgres.grant_tenant(pg_url, role=role, tenant="b", schema=pg_schema)
    return role_url(pg_url, role)


@pytest.fixture
def conn_b(role_b: str, pg_schema: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(role_b, autocommit=True, options=f"-c search_path={pg_schema}") as conn:
        yield conn


def key_columns(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, ...]]:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in TENANT_TABLES[table])
    query = sql.SQL("SELECT {} FROM {}").format(cols, sql.Identifier(table))
    return [tuple(r) for r in conn.execute(query).fetchall()]


def tenants_in(rows: list[tuple[str, ...]]) -> set[str]:
    found = set()
    for row in rows:
        for key in row:
            parsed = tenant_of(
                key.removeprefix("agentstore:sliding:0:").removeprefix("agentstore:sliding:1:")
            )
            found.add("" if parsed is None else parsed[0])
    return found


def test_installed_on_every_tenant_table_once_and_again(
    pg_url: str, pg_schema: str, owner: agentstore.Store, pg_conn: psycopg.Connection[Any]
) -> None:
    agentstore.open(policy(pg_url, pg_schema, row_security=True)).close()  # again: no-op
    rows = pg_conn.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, count(p.polname) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_policy p ON p.polrelid = c.oid "
        "WHERE n.nspname = %s AND c.relkind = 'r' GROUP BY 1, 2, 3",
        (pg_schema,),
    ).fetchall()
    state = {name: (rls, forced, n) for name, rls, forced, n in rows}
    for table in TENANT_TABLES:
        assert state[table] == (True, False, 1), table  # the owner is not forced
    assert state[ROLES_TABLE] == (True, False, 1)
    assert state["agentstore_meta"] == (False, False, 0)


def test_the_row_tenant_function_agrees_with_tenant_of(
    owner: agentstore.Store, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    cases = {
        "agentstore:t:b:x": "b",
        "agentstore:t:b:x:y": "b",
        "agentstore:t:a-1:\n": "a-1",
        "agentstore:sliding:0:agentstore:t:b:k": "b",
        "agentstore:sliding:1:agentstore:t:c9:k": "c9",
        "agentstore:sliding:2:agentstore:t:b:k": "",
        "agentstore:t:b:": "",
        "agentstore:t::x": "",
        "agentstore:t:b": "",
        "agentstore:t:b-:x": "",
        "agentstore:t:b_c:x": "",
        "agentstore:t:é:x": "",
        "agentstore:t:a--b:x": "a--b",
        "agentstore:sliding:0:agentstore:t:b:": "",
        "agentstore:sliding:0:plain": "",
        "agentstore:sliding:01:agentstore:t:b:k": "",
        "agentstore:t:B:x": "",
        "agentstore:t:-b:x": "",
        "agentstore:t:" + "x" * 64 + ":k": "",
        "agentstore:t:" + "x" * 63 + ":k": "x" * 63,
        "xagentstore:t:b:x": "",
        "agentstore:audit": "",
        "plain": "",
    }
    fn = sql.Identifier(pg_schema, "agentstore_row_tenant")
    for key, tenant in cases.items():
        got = pg_conn.execute(sql.SQL("SELECT {}(%s)").format(fn), (key,)).fetchone()
        assert got == (tenant,), key
        parsed = tenant_of(
            key.removeprefix("agentstore:sliding:0:").removeprefix("agentstore:sliding:1:")
        )
        assert ("" if parsed is None else parsed[0]) == tenant, key


def test_hand_written_selects_return_only_the_tenants_rows(
    conn_b: psycopg.Connection[Any],
    owner: agentstore.Store,
    pg_url: str,
    pg_schema: str,
    role_b: str,
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as root:
        root.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(pg_schema)))
        for table in TENANT_TABLES:
            everything = key_columns(root, table)
            assert tenants_in(everything) == {"a", "b", ""}, table  # the owner sees all
            seen = key_columns(conn_b, table)
            assert seen, table
            assert tenants_in(seen) == {"b"}, table
            assert sorted(seen) == sorted(r for r in everything if tenants_in([r]) == {"b"})
            star = conn_b.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            assert len(star.fetchall()) == len(seen)
    # The policies name their functions by schema: any search_path gives the same rows.
    with psycopg.connect(role_b, autocommit=True, options="-c search_path=") as bare:
        for table in TENANT_TABLES:
            qualified = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(pg_schema, table))
            assert bare.execute(qualified).fetchone() == (len(key_columns(conn_b, table)),)


def test_writes_outside_the_tenant_are_refused_or_touch_nothing(
    conn_b: psycopg.Connection[Any], owner: agentstore.Store
) -> None:
    for key in (tenant_key("a", "x"), "root-x", "agentstore:t:b:"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn_b.execute("INSERT INTO agentstore_generations VALUES (%s, 1)", (key,))
    conn_b.execute("INSERT INTO agentstore_generations VALUES (%s, 7)", (tenant_key("b", "x"),))
    for table, columns in TENANT_TABLES.items():
        col = sql.Identifier(columns[0])
        t = sql.Identifier(table)
        for other in ("agentstore:t:a:%", "%"):
            cond = sql.SQL(
                "{} LIKE %s AND {} NOT LIKE 'agentstore:t:b:%%' "
                "AND {} NOT LIKE 'agentstore:sliding:_:agentstore:t:b:%%'"
            ).format(col, col, col)
            n = conn_b.execute(sql.SQL("DELETE FROM {} WHERE ").format(t) + cond, (other,))
            assert n.rowcount == 0, table
            update = sql.SQL("UPDATE {} SET {} = {} WHERE ").format(t, col, col) + cond
            if table == "agentstore_log":  # its key columns are not the role's to update
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn_b.execute(update, (other,))
                continue
            assert conn_b.execute(update, (other,)).rowcount == 0, table
    # Its own rows it may change (its fixed window's and its sliding window's).
    n = conn_b.execute("UPDATE agentstore_rate_limits SET count = count WHERE key LIKE '%:t:b:%'")
    assert n.rowcount == 2
    # Moving its own row into another tenant's namespace fails the policy's check.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn_b.execute(
            "UPDATE agentstore_generations SET name = %s WHERE name = %s",
            (tenant_key("a", "g"), tenant_key("b", "g")),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn_b.execute(
            "INSERT INTO agentstore_sessions (session_id, agent_id, data) VALUES (%s, %s, '{}')",
            (tenant_key("b", str(uuid.uuid4())), tenant_key("a", str(uuid.uuid4()))),
        )
    # The owner still sees every tenant's rows as they were.
    assert owner.tenant("a").generation("g").current() == 1
    assert owner.generation("g").current() == 1
    assert [e.payload for e in owner.tenant("a").log("s", writer="w").entries()] == [b"a entry"]
    assert owner.tenant("a").credentials.get_secret("k") == b"a secret"


@pytest.mark.parametrize("granted_before", [False, True], ids=["fresh", "regranted"])
def test_the_role_cannot_choose_its_rows_positions(
    conn_b: psycopg.Connection[Any],
    owner: agentstore.Store,
    pg_schema: str,
    pg_conn: psycopg.Connection[Any],
    granted_before: bool,
) -> None:
    """``tx`` is the writing transaction's id (the unique ``(tx, idx)`` is every entry's
    position), so a tenant role may not write it: with it, rows of b planted at the ids
    of transactions to come would make other tenants' appends there fail on the unique
    index, and a row at a far future id would stall the owner's feed reads. Granting
    again takes back the table-wide privileges an older grant_tenant gave."""
    if granted_before:
        role = str(conn_b.info.user)
        table = sql.Identifier(pg_schema, "agentstore_log")
        pg_conn.execute(
            sql.SQL("GRANT INSERT, UPDATE ON {} TO {}").format(table, sql.Identifier(role))
        )
        agentstore_postgres.grant_tenant(pg_conn, role=role, tenant="b", schema=pg_schema)
    tx = int(conn_b.execute("SELECT pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
    plant = (
        "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash, "
        "tx, idx) VALUES (%s, 'w', %s, '\\x', NULL, %s, %s::text::xid8, 1)"
    )
    for n, at in enumerate((tx + 1, tx + 2**40), start=1):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="agentstore_log"):
            conn_b.execute(plant, (tenant_key("b", f"planted{n}"), 1, b"\x01" * 32, str(at)))
    for column in ("tx", "idx", "stream", "seq", "content_hash"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="agentstore_log"):
            conn_b.execute(
                sql.SQL("UPDATE agentstore_log SET {} = {}").format(
                    sql.Identifier(column), sql.Identifier(column)
                )
            )
    # What the store itself writes as the role still goes (append, batch, redaction).
    n = conn_b.execute(
        "UPDATE agentstore_log SET payload = payload, redacted = redacted WHERE stream = %s",
        (tenant_key("b", "s"),),
    )
    assert n.rowcount == 1
    assert [e.payload for e in owner.tenant("a").log("s", writer="w").entries()] == [b"a entry"]


def test_the_role_cannot_change_its_mapping_nor_turn_security_off(
    conn_b: psycopg.Connection[Any], role_b: str, pg_schema: str, pg_url: str
) -> None:
    me = urlsplit(role_b).netloc.partition("@")[0]
    assert conn_b.execute(f"SELECT role::text, tenant FROM {ROLES_TABLE}").fetchall() == [(me, "b")]
    for statement in (
        f"UPDATE {ROLES_TABLE} SET tenant = 'a'",
        f"DELETE FROM {ROLES_TABLE}",
        f"INSERT INTO {ROLES_TABLE} VALUES ('{me}x', 'a')",
        "INSERT INTO agentstore_meta VALUES ('x', 'y')",
        "TRUNCATE agentstore_generations",
        "CREATE TABLE agentstore_x (i int)",
        "CREATE OR REPLACE FUNCTION agentstore_row_tenant(key text) RETURNS text "
        "LANGUAGE sql AS $$SELECT 'b'$$",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn_b.execute(statement)
    for statement in (
        "ALTER TABLE agentstore_log DISABLE ROW LEVEL SECURITY",
        f"DROP POLICY {POLICY} ON agentstore_log",
        f"ALTER POLICY {POLICY} ON agentstore_log USING (true)",
        f"ALTER TABLE {ROLES_TABLE} DISABLE ROW LEVEL SECURITY",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
            conn_b.execute(statement)
    # Even a table privilege on the mapping (as default privileges might grant) writes
    # nothing: it has no write policy.
    with psycopg.connect(pg_url, autocommit=True) as root:
        grant = "GRANT INSERT, UPDATE, DELETE ON {} TO {}"
        root.execute(
            sql.SQL(grant).format(sql.Identifier(pg_schema, ROLES_TABLE), sql.Identifier(me))
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn_b.execute(f"INSERT INTO {ROLES_TABLE} VALUES ('{me}x', 'a')")
    assert conn_b.execute(f"UPDATE {ROLES_TABLE} SET tenant = 'a'").rowcount == 0
    assert conn_b.execute(f"DELETE FROM {ROLES_TABLE}").rowcount == 0
    assert conn_b.execute(f"SELECT tenant FROM {ROLES_TABLE}").fetchall() == [("b",)]
    # Turning row security off in the session makes such queries fail, not see more.
    conn_b.execute("SET row_security = off")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn_b.execute("SELECT count(*) FROM agentstore_log")


def test_the_store_opened_as_the_role_works_for_its_tenant_only(
    role_b: str, pg_schema: str, owner: agentstore.Store
) -> None:
    store = agentstore.open(policy(role_b, pg_schema))
    try:
        b = store.tenant("b")
        log = b.log("s", writer="w")
        assert [e.payload for e in log.entries()] == [b"b entry"]
        log.append(b"one")
        log.append_many([b"two", b"three"])  # an INSERT of arrays: COPY is refused under RLS
        log.append(b"four", expect_head=4)
        assert log.verify() == 5
        log.redact(2, reason="test")  # VACUUM is the owner's: skipped with a warning
        assert log.verify() == 5
        fed = [(e.stream, e.seq) for e in b.feed()]
        assert fed[:5] == [("s", 1), ("s", 2), ("s", 3), ("s", 4), ("s", 5)]
        assert [s for s, _ in fed[5:]] == ["agentstore:audit"]  # the redaction, audited
        assert [e.seq for e in b.stream("s").entries()] == [1, 2, 3, 4, 5]
        assert ("s", "w") in b.logs()
        key = os.urandom(32)
        signed = b.log("signed", writer="w", signing_key=key)
        signed.append_many([b"s1", b"s2"])  # its checkpoint lands in b's namespace too
        assert signed.verify(trusted=[Signer(key).fingerprint]) == 2
        assert b.generation("g").bump() == 2
        assert b.generation("new").bump() == 1
        b.credentials.put_secret("k2", b"v2")
        assert b.credentials.get_secret("k") == b"b secret"
        assert list(b.credentials.names()) == ["k", "k2"]
        b.credentials.delete_secret("k2")
        assert b.rate_limits.hit("fixed", 5, 60).remaining == 3
        assert b.rate_limits.hit("slide", 5, 60, strategy="sliding").allowed
        assert b.rate_limits.window_stats("slide", 5, 60, strategy="sliding").remaining == 3
        assert b.rate_limits.increment("counted") == 1

        # Tenant a and the root, through the same connection: nothing to read (the root
        # sees b's rows under their stored names)...
        for other in (store.tenant("a"), store):
            assert list(other.log("s", writer="w").entries()) == []
            assert all(s.startswith("agentstore:t:b:") for s, _ in other.logs())
            assert other.generation("g").current() == 0
            assert all(n.startswith("agentstore:t:b:") for n in other.credentials.names())
            with pytest.raises(NotFound):
                other.credentials.get_secret("k")
            assert other.rate_limits.window_stats("fixed", 5, 60).remaining == 5
        assert store.tenant("a").logs() == []
        assert {e.stream for e in store.feed()} == {
            tenant_key("b", name)
            for name in ("s", "agentstore:audit", "signed", "agentstore:checkpoints")
        }
        # ...and nothing to write.
        a = store.tenant("a")
        for write in (
            lambda: a.log("s", writer="w").append(b"x"),
            lambda: a.log("t", writer="w").append_many([b"x", b"y"]),
            lambda: a.generation("g").bump(),
            lambda: a.credentials.put_secret("k", b"stolen"),
            lambda: a.rate_limits.hit("fixed", 5, 60),
            lambda: a.rate_limits.hit("slide", 5, 60, strategy="sliding"),
            lambda: store.generation("g").bump(),
        ):
            with pytest.raises(StoreError, match="row-level security"):
                write()
    finally:
        store.close()
    a = owner.tenant("a")
    assert [e.payload for e in a.log("s", writer="w").entries()] == [b"a entry"]
    assert a.generation("g").current() == 1
    assert a.credentials.get_secret("k") == b"a secret"
    assert owner.tenant("b").log("s", writer="w").verify() == 5


def test_grant_checks_its_input_and_changes_nothing_on_error(
    pg_url: str,
    pg_schema: str,
    owner: agentstore.Store,
    make_role: Any,
    pg_conn: psycopg.Connection[Any],
) -> None:
    role = make_role()
    grants = (
        "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = %s",
        (role,),
    )
    for tenant in ("B", "a:b", "", "-a", "a" * 64, 7):
        with pytest.raises(InvalidInput):
            agentstore_postgres.grant_tenant(pg_url, role=role, tenant=tenant, schema=pg_schema)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        agentstore_postgres.grant_tenant(pg_url, role="", tenant="b", schema=pg_schema)
    with pytest.raises(StoreError, match="does not exist"):
        agentstore_postgres.grant_tenant(pg_url, role=role + "x", tenant="b", schema=pg_schema)
    with pytest.raises(StoreError, match="superuser"):
        agentstore_postgres.grant_tenant(pg_url, role="postgres", tenant="b", schema=pg_schema)
    assert pg_conn.execute(*grants).fetchone() == (0,)
    mapping = sql.SQL("SELECT role::text, tenant FROM {}").format(
        sql.Identifier(pg_schema, ROLES_TABLE)
    )
    assert pg_conn.execute(mapping).fetchall() == []

    weird = make_role(' "Q; x')  # a name that needs quoting
    agentstore_postgres.grant_tenant(pg_url, role=weird, tenant="c", schema=pg_schema)
    assert pg_conn.execute(mapping).fetchall() == [(weird, "c")]
    assert agentstore_postgres.revoke_tenant(pg_url, role=weird, schema=pg_schema) == "c"

    agentstore_postgres.grant_tenant(pg_url, role=role, tenant="b", schema=pg_schema)
    agentstore_postgres.grant_tenant(pg_url, role=role, tenant="b", schema=pg_schema)  # again
    with pytest.raises(StoreError, match="bound to tenant 'b'"):
        agentstore_postgres.grant_tenant(pg_url, role=role, tenant="a", schema=pg_schema)
    assert pg_conn.execute(mapping).fetchall() == [(role, "b")]

    assert agentstore_postgres.revoke_tenant(pg_url, role=role, schema=pg_schema) == "b"
    assert agentstore_postgres.revoke_tenant(pg_url, role=role, schema=pg_schema) is None
    assert pg_conn.execute(*grants).fetchone() == (0,)
    with pytest.raises(StoreError, match="may not use schema"):
        agentstore.open(policy(role_url(pg_url, role), pg_schema))


def test_grant_refuses_a_schema_without_row_security(
    pg_url: str, pg_schema: str, make_role: Any
) -> None:
    agentstore.open(policy(pg_url, pg_schema)).close()
    role = make_role()
    with pytest.raises(StoreError, match="row_security = true"):
        agentstore_postgres.grant_tenant(pg_url, role=role, tenant="b", schema=pg_schema)


def test_disable_takes_the_roles_privileges_then_the_policies(
    pg_url: str,
    pg_schema: str,
    role_b: str,
    owner: agentstore.Store,
    pg_conn: psycopg.Connection[Any],
) -> None:
    me = urlsplit(role_b).netloc.partition("@")[0]
    assert agentstore_postgres.disable_row_security(pg_url, schema=pg_schema) == [me]
    assert agentstore_postgres.disable_row_security(pg_url, schema=pg_schema) == []
    flags = pg_conn.execute(
        "SELECT bool_or(c.relrowsecurity), count(p.polname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_policy p "
        "ON p.polrelid = c.oid WHERE n.nspname = %s",
        (pg_schema,),
    ).fetchone()
    assert flags == (False, 0)
    with (
        psycopg.connect(role_b, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        log = sql.Identifier(pg_schema, "agentstore_log")
        conn.execute(sql.SQL("SELECT * FROM {}").format(log))
    assert owner.tenant("a").generation("g").current() == 1  # data kept


def wait_for(found: list[Any], n: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while len(found) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_announcements_name_no_stream_and_reach_only_the_tenant(
    pg_url: str, pg_schema: str, role_b: str, owner: agentstore.Store
) -> None:
    spy = psycopg.connect(role_b, autocommit=True)  # hand-written LISTEN as tenant b
    spy.execute(sql.SQL("LISTEN {}").format(sql.Identifier(f"agentstore:{pg_schema}")))
    writer = agentstore.open(policy(pg_url, pg_schema, notify=True, row_security=True))
    store = agentstore.open(policy(role_b, pg_schema, notify=True))
    try:
        heard_b: list[Any] = []
        heard_root: list[Any] = []
        store.tenant("b").doorbell.subscribe(heard_b.append)
        store.doorbell.subscribe(heard_root.append)
        writer.tenant("a").log("secret-a", writer="w").append(b"x")
        writer.tenant("b").log("mine", writer="w").append(b"y")
        writer.tenant("a").log("secret-a2", writer="w").append_many([b"1", b"2"])
        writer.tenant("b").log("mine", writer="w").append_many([b"3", b"4"])
        wait_for(heard_b, 3)
        time.sleep(0.3)  # a's announcements, were they delivered, would be in by now
        assert [(e.stream, e.seq) for e in heard_b] == [("mine", 1), ("mine", 2), ("mine", 3)]
        assert [e.stream for e in heard_root] == [tenant_key("b", "mine")] * 3
        notes = [n.payload for n in spy.notifies(timeout=1.0, stop_after=6)]
        assert len(notes) == 6
        for payload in notes:
            assert "secret" not in payload and "mine" not in payload
            assert set(json.loads(payload)) == {"o", "p"}

        # The other way: tenant b's append reaches the owner's store with its name.
        heard_owner: list[Any] = []
        writer.doorbell.subscribe(heard_owner.append)
        store.tenant("b").log("mine", writer="w").append(b"5")  # seq 4
        wait_for(heard_owner, 1)
        assert [(e.stream, e.seq) for e in heard_owner] == [(tenant_key("b", "mine"), 4)]
    finally:
        store.close()
        writer.close()
        spy.close()


def test_a_tenant_role_cannot_ring_another_tenants_doorbell(
    pg_url: str, pg_schema: str, conn_b: psycopg.Connection[Any], make_role: Any
) -> None:
    """NOTIFY has no privilege check: on a schema with row-level security a listener
    rings only for entries it reads back, never for names an announcement carries (tenant
    b could forge a commit of a's otherwise, sync or async)."""
    import asyncio

    import agentstore.aio

    role_a = make_role()
    agentstore_postgres.grant_tenant(pg_url, role=role_a, tenant="a", schema=pg_schema)
    url_a = role_url(pg_url, role_a)
    channel = f"agentstore:{pg_schema}"
    forged = json.dumps(
        {"o": "forger", "s": tenant_key("a", "orders"), "w": "w", "q": 9, "h": "00" * 32, "p": 1}
    )
    writer = agentstore.open(policy(pg_url, pg_schema, notify=True, row_security=True))
    store = agentstore.open(policy(url_a, pg_schema, notify=True))
    heard: list[Any] = []
    store.tenant("a").doorbell.subscribe(heard.append)

    async def main() -> list[Any]:
        async with agentstore.aio.open(policy(url_a, pg_schema, notify=True)) as astore:
            events = astore.doorbell.events()
            await asyncio.sleep(0.2)  # its LISTEN is in place before start() returns
            conn_b.execute("SELECT pg_notify(%s, %s)", (channel, forged))
            await asyncio.to_thread(writer.tenant("a").log("real", writer="w").append, b"x")
            async with asyncio.timeout(10):
                async for event in events:
                    return [event]
        return []

    try:
        heard_async = asyncio.run(main())
        wait_for(heard, 1)
        time.sleep(0.3)
        assert [(e.stream, e.seq) for e in heard] == [("real", 1)]
        assert [(e.stream, e.seq) for e in heard_async] == [(tenant_key("a", "real"), 1)]
    finally:
        store.close()
        writer.close()


def test_the_async_face_as_the_role(
    pg_url: str, pg_schema: str, role_b: str, owner: agentstore.Store
) -> None:
    """agentstore.aio has no tenant views yet: its native log store is driven with the
    stored names, as a view would."""
    import asyncio

    import agentstore.aio

    writer = agentstore.open(policy(pg_url, pg_schema, notify=True, row_security=True))

    async def main() -> None:
        async with agentstore.aio.open(policy(role_b, pg_schema, notify=True)) as store:
            logs = store._cap("logs")
            events = store.doorbell.events()
            mine, theirs = tenant_key("b", "async"), tenant_key("a", "async")
            batch = await logs.append_many(mine, "w", [b"1", b"2", b"3"])  # INSERT of arrays
            assert [e.seq for e in batch] == [1, 2, 3]
            assert [e.payload for e in await logs.page(mine, "w", 0, 10)] == [b"1", b"2", b"3"]
            with pytest.raises(StoreError, match="row-level security"):
                await logs.append_many(theirs, "w", [b"1", b"2"])
            with pytest.raises(StoreError, match="row-level security"):
                await logs.append(theirs, "w", b"1")
            assert await logs.page(tenant_key("a", "s"), "w", 0, 10) == []
            await asyncio.to_thread(writer.tenant("a").log("x", writer="w").append, b"a")
            await asyncio.to_thread(writer.tenant("b").log("x", writer="w").append, b"b")
            heard = []
            async with asyncio.timeout(10):
                async for event in events:
                    if event.stream != mine:  # its own appends ring locally too
                        heard.append(event)
                        break
            assert [(e.stream, e.seq) for e in heard] == [(tenant_key("b", "x"), 1)]
            tb, ta = store.tenant("b"), store.tenant("a")  # run on the store's threads
            await tb.log("viewed", writer="w").append_many([b"1", b"2"])
            assert await tb.log("viewed", writer="w").verify() == 2
            assert await tb.generation("g").bump() == 2
            with pytest.raises(StoreError, match="row-level security"):
                await ta.generation("g").bump()

    try:
        asyncio.run(main())
        assert writer.tenant("b").log("async", writer="w").verify() == 3  # heads moved too
    finally:
        writer.close()


def test_sessions_policies_and_agents_of_a_tenant_role(
    role_b: str, pg_schema: str, owner: agentstore.Store
) -> None:
    store = agentstore.open(policy(role_b, pg_schema))
    try:
        b, a = store.tenant("b"), store.tenant("a")
        agent, session = AgentId.new(), SessionId.new()
        b.policies.put(agent, PolicyDocument({"allow": ["read"]}))
        assert b.policies.get(agent).body == {"allow": ["read"]}
        b.sessions.save(SessionRecord(session, agent, {"step": 1}), ttl_secs=60)
        assert b.sessions.load(session).data == {"step": 1}
        b.lifecycle.register(agent)
        b.lifecycle.heartbeat(agent)
        assert b.lifecycle.live(60) == [agent]
        # Beside the owner's rows of tenant b (one of each, the agent's heartbeat long gone).
        assert agent in list(b.policies.agent_ids())
        assert len(list(b.policies.agent_ids())) == 2
        assert session in list(b.sessions.ids())
        assert len(list(b.sessions.ids())) == 2
        assert b.sessions.purge_expired() == 0
        assert b.lifecycle.prune(60) == 1  # b's stale agent; a's and the root's stay
        # Tenant a on the same connection: nothing there, nothing written.
        assert list(a.policies.agent_ids()) == []
        assert list(a.sessions.ids()) == []
        assert a.lifecycle.live(60) == []
        with pytest.raises(NotFound):
            a.sessions.load(session)
        for write in (
            lambda: a.policies.put(AgentId.new(), PolicyDocument({})),
            lambda: a.sessions.save(SessionRecord(SessionId.new(), AgentId.new(), {})),
            lambda: a.lifecycle.register(AgentId.new()),
        ):
            with pytest.raises(StoreError, match="row-level security"):
                write()
        b.sessions.delete(session)
        b.lifecycle.deregister(agent)
        b.policies.invalidate(agent)
    finally:
        store.close()
    # The owner's rows of tenant a and of the root are all still there.
    for view in (owner.tenant("a"), owner):
        assert len(list(view.policies.agent_ids())) == 1
        assert len(list(view.sessions.ids())) == 1
        assert len(list(view.lifecycle.agents())) == 1
