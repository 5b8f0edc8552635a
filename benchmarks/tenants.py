"""What a tenant view costs: appends and session saves through ``store.tenant(name)``
against the store's own calls and the raw floor, and a tenant's feed in a store shared by
several tenants against the store's whole feed.

The view renames each call's names and, for sessions, reaches the driver's per-tenant
scope; "a view per call" takes a fresh view for every operation, as a service taking one
per request does. A tenant's feed is selected by the database (a range of stream names),
set beside a raw SELECT of the same rows and the store's whole feed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentstore.sql.positions import prefix_range
from agentstore.tenancy import tenant_key

from benchmarks.common import PAYLOAD, SQLITE_NORMAL, STREAM, Settings, open_agentstore
from benchmarks.feed import _pg_section
from benchmarks.harness import CallRunner, Contender, Runner, Scenario, Unavailable, repeat
from benchmarks.positions import _sqlite_now
from benchmarks.postgres_log import Pg, _where

TENANTS = 8
"""Tenants sharing the store in the feed scenario; one of them is read."""


def _sqlite_store(path: Path) -> Any:
    return open_agentstore("sqlite", {"path": str(path), "synchronous": "NORMAL"})


def _append_root(path: Path, n: int) -> Runner:
    store = _sqlite_store(path)
    log = store.log(STREAM, writer="root")
    return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)


def _append_tenant(path: Path, n: int) -> Runner:
    store = _sqlite_store(path)
    log = store.tenant("acme").log(STREAM, writer="tenant")
    return CallRunner(repeat(lambda: log.append(PAYLOAD), n), n, store.close)


def _append_view_per_call(path: Path, n: int) -> Runner:
    store = _sqlite_store(path)
    return CallRunner(
        repeat(lambda: store.tenant("acme").log(STREAM, writer="per-call").append(PAYLOAD), n),
        n,
        store.close,
    )


def _sessions(n: int, how: str) -> Runner:
    from agentstore import AgentId, SessionId, SessionRecord

    store = open_agentstore("memory")
    agent = AgentId.new()
    records = [SessionRecord(SessionId.new(), agent, {"n": i}) for i in range(n)]
    if how == "dict":
        table: dict[tuple[str, SessionId], SessionRecord] = {}

        def save_all() -> None:
            for r in records:
                table[("acme", r.session_id)] = r

        return CallRunner(save_all, n, store.close)
    sessions = store.sessions if how == "root" else store.tenant("acme").sessions

    def save() -> None:
        for r in records:
            if how == "per-call":
                store.tenant("acme").sessions.save(r)
            else:
                sessions.save(r)

    return CallRunner(save, n, store.close)


def _feed_reader(store: Any, per_tenant: int, tenant: str | None) -> Runner:
    """Reads the feed of ``tenant`` (None: the store's, every tenant's) whole."""
    reader = store if tenant is None else store.tenant(tenant)
    expected = per_tenant * (TENANTS if tenant is None else 1)

    def read() -> None:
        count = sum(1 for _ in reader.feed())
        if count != expected:
            raise RuntimeError(f"read {count} events, expected {expected}")

    return CallRunner(read, expected, store.close)


def _feed(path: Path, per_tenant: int, tenant: str | None) -> Runner:
    store = _sqlite_store(path)
    if not any(True for _ in store.feed(limit=1)):
        _fill_tenants(store, per_tenant)
    return _feed_reader(store, per_tenant, tenant)


def _raw_tenant_scan(path: Path, per_tenant: int, tenant: str) -> Runner:
    import sqlite3

    _feed(path, per_tenant, None).close()  # the same store, filled once
    conn = sqlite3.connect(path)
    sql = (
        "SELECT stream, writer, seq, content_hash, position FROM agentstore_log_rows "
        "WHERE position > 0 AND stream >= ? AND stream < ? ORDER BY position"
    )

    def read() -> None:
        rows = conn.execute(sql, prefix_range(tenant_key(tenant, ""))).fetchall()
        if len(rows) != per_tenant:
            raise RuntimeError(f"read {len(rows)} rows, expected {per_tenant}")

    return CallRunner(read, per_tenant, conn.close)


def _fill_tenants(store: Any, per_tenant: int) -> None:
    for t in range(TENANTS):
        view = store.tenant(f"t{t}")
        for start in range(0, per_tenant, 500):
            view.log(STREAM, "w").append_many([PAYLOAD] * min(500, per_tenant - start))


def _pg_built(pg: Pg, per_tenant: int) -> Pg:
    store = open_agentstore("postgres", _pg_section(pg))
    try:
        _fill_tenants(store, per_tenant)
    finally:
        store.close()
    with pg.connect() as conn:
        conn.execute("VACUUM ANALYZE agentstore_log")
    return pg


def _pg_feed(pg: Pg, per_tenant: int, tenant: str | None) -> Runner:
    store = open_agentstore("postgres", _pg_section(pg))
    return _feed_reader(store, per_tenant, tenant)


def _pg_raw_tenant_scan(pg: Pg, per_tenant: int, tenant: str) -> Runner:
    conn = pg.connect()
    sql = (
        "SELECT stream, writer, seq, content_hash, tx, idx FROM agentstore_log "
        "WHERE stream >= %s AND stream < %s AND tx < pg_snapshot_xmin(pg_current_snapshot()) "
        "ORDER BY tx, idx"
    )

    def scan() -> None:
        with conn.cursor() as cur:
            cur.execute(sql, prefix_range(tenant_key(tenant, "")))
            n = sum(1 for _ in cur)
        if n != per_tenant:
            raise RuntimeError(f"read {n} rows, expected {per_tenant}")

    return CallRunner(scan, per_tenant, conn.close)


def scenarios(settings: Settings) -> list[Scenario]:
    appends = settings.n(2000, 300)
    saves = settings.n(20000, 2000)
    per_tenant = settings.n(5000, 500)
    feed_db = settings.path("tenant-feed") / "feed.db"
    pg = Pg(settings)
    skipped = pg.probe()
    pg_ready = functools.cache(lambda: _pg_built(pg, per_tenant))

    def unavailable_without_sqlite() -> None:
        try:
            import agentstore_sqlite  # noqa: F401
        except ImportError as exc:
            raise Unavailable("agentstore-sqlite is not installed") from exc

    def sqlite(fn: Callable[[Path, int], Runner], name: str, n: int) -> Callable[[], Runner]:
        def start() -> Runner:
            unavailable_without_sqlite()
            return fn(settings.path(name) / "t.db", n)

        return start

    return [
        Scenario(
            key="sqlite-tenant-append",
            title="SQLite: a single append through a tenant view (256-byte payload)",
            unit="appends",
            note=(
                f"{appends} appends per sample, one writer, WAL, synchronous=NORMAL. The "
                "floor runs agentstore's one-statement append raw; then the store's log, a "
                "tenant's log, and a fresh tenant view and log handle taken for every append."
            ),
            contenders=[
                Contender(
                    "raw sqlite3, agentstore's statement (floor)",
                    "floor",
                    SQLITE_NORMAL,
                    lambda: _sqlite_now(settings.path("tenant-floor") / "f.db", appends),
                ),
                Contender(
                    "agentstore sqlite, the store's log",
                    "agentstore",
                    SQLITE_NORMAL,
                    sqlite(_append_root, "tenant-root", appends),
                ),
                Contender(
                    "agentstore sqlite, a tenant's log",
                    "agentstore",
                    SQLITE_NORMAL,
                    sqlite(_append_tenant, "tenant-view", appends),
                ),
                Contender(
                    "agentstore sqlite, a tenant view per append",
                    "agentstore",
                    SQLITE_NORMAL,
                    sqlite(_append_view_per_call, "tenant-per-call", appends),
                ),
            ],
        ),
        Scenario(
            key="memory-tenant-sessions",
            title="memory: saving a session through a tenant view",
            unit="saves",
            note=(
                f"{saves} saves per sample of distinct sessions. The floor stores each record "
                "in a dict keyed by (tenant, session id)."
            ),
            contenders=[
                Contender(
                    "dict[(tenant, id)] (floor)",
                    "floor",
                    "memory",
                    lambda: _sessions(saves, "dict"),
                ),
                Contender(
                    "agentstore memory, the store's sessions",
                    "agentstore",
                    "memory",
                    lambda: _sessions(saves, "root"),
                ),
                Contender(
                    "agentstore memory, a tenant's sessions",
                    "agentstore",
                    "memory",
                    lambda: _sessions(saves, "tenant"),
                ),
                Contender(
                    "agentstore memory, a tenant view per save",
                    "agentstore",
                    "memory",
                    lambda: _sessions(saves, "per-call"),
                ),
            ],
        ),
        Scenario(
            key="sqlite-tenant-feed",
            title=f"SQLite: one tenant's feed in a store shared by {TENANTS} tenants",
            unit="events",
            note=(
                f"{TENANTS} tenants with {per_tenant} entries each, appended tenant after "
                "tenant in batches of 500. The floor reads one tenant's rows with one "
                "ordered SELECT over its stream range; the store's feed reads every "
                "tenant's entries; a tenant's feed selects its own (1/8 of them) by the same "
                "range, page by page."
            ),
            contenders=[
                Contender(
                    "raw sqlite3, the tenant's rows by stream range, in position order (floor)",
                    "floor",
                    SQLITE_NORMAL,
                    lambda: _raw_tenant_scan(feed_db, per_tenant, "t3"),
                ),
                Contender(
                    "agentstore sqlite, the store's feed (every tenant)",
                    "part",
                    SQLITE_NORMAL,
                    lambda: _feed(feed_db, per_tenant, None),
                ),
                Contender(
                    "agentstore sqlite, one tenant's feed",
                    "agentstore",
                    SQLITE_NORMAL,
                    lambda: _feed(feed_db, per_tenant, "t3"),
                ),
            ],
        ),
        Scenario(
            key="postgres-tenant-feed",
            title=f"PostgreSQL: one tenant's feed in a store shared by {TENANTS} tenants",
            unit="events",
            skipped=skipped,
            note=(
                f"PostgreSQL {pg.version} at {_where(pg.url)}. {TENANTS} tenants with "
                f"{per_tenant} entries each, as in the SQLite scenario. The floor reads one "
                "tenant's rows below the snapshot's xmin with one ordered SELECT over its "
                "stream range."
            ),
            contenders=[
                Contender(
                    "raw psycopg, the tenant's rows by stream range, in position order (floor)",
                    "floor",
                    pg.durability,
                    lambda: _pg_raw_tenant_scan(pg_ready(), per_tenant, "t3"),
                ),
                Contender(
                    "agentstore postgres, the store's feed (every tenant)",
                    "part",
                    pg.durability,
                    lambda: _pg_feed(pg_ready(), per_tenant, None),
                ),
                Contender(
                    "agentstore postgres, one tenant's feed",
                    "agentstore",
                    pg.durability,
                    lambda: _pg_feed(pg_ready(), per_tenant, "t3"),
                ),
            ],
        ),
    ]
