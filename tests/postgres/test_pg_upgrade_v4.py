"""Schema version 4 on PostgreSQL: a version 3 store upgraded in place gets positions."""

from __future__ import annotations

from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import StorePolicy
from agentstore.chain import chain_hash
from agentstore.sql.schema import CREATE_META, DEFAULT_LAYOUT, META_TABLE, VERSION_KEY
from agentstore_postgres.backend import translate_sql
from psycopg import sql


def make_v3_store(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, str, int]]:
    """A schema as agentstore wrote it at version 3, holding three logs whose entries were
    written interleaved (each in its own transaction); the entries, in write order."""
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
    with conn.transaction():
        conn.execute(translate_sql(DEFAULT_LAYOUT.sql(CREATE_META)))
        for version in (1, 2, 3):
            for statement in DEFAULT_LAYOUT.migrations[version]:
                conn.execute(translate_sql(DEFAULT_LAYOUT.sql(statement)))
        conn.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (%s, %s)", (VERSION_KEY, "3"))
    heads: dict[tuple[str, str], bytes | None] = {}
    order: list[tuple[str, str, int]] = []
    logs = [("conv", "alice"), ("conv", "bob"), ("other", "carol")]
    for i in range(1, 5):
        for stream, writer in logs:
            prev = heads.get((stream, writer))
            payload = f"{stream}/{writer}/{i}".encode()
            digest = chain_hash(prev, payload)
            conn.execute(
                "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, "
                "content_hash) VALUES (%s, %s, %s, %s, %s, %s)",
                (stream, writer, i, payload, prev, digest),
            )
            conn.execute(
                "INSERT INTO agentstore_log_heads (stream, writer, seq, content_hash) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (stream, writer) DO UPDATE "
                "SET seq = excluded.seq, content_hash = excluded.content_hash",
                (stream, writer, i, digest),
            )
            heads[(stream, writer)] = digest
            order.append((stream, writer, i))
    return order


def test_a_version_3_store_is_upgraded_in_place_with_positions_in_written_order(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    written = make_v3_store(pg_conn, pg_schema)
    with agentstore.open(pg_policy) as store:
        assert pg_conn.execute(f"SELECT value FROM {META_TABLE}").fetchone() == ("4",)
        # Old rows: tx 0, idx 1..N in the order they were written.
        feed = list(store.feed())
        assert [e.position for e in feed] == list(range(1, len(written) + 1))
        assert [(e.stream, e.writer, e.seq) for e in feed] == written
        assert store.position() == len(written)
        alice = store.log("conv", writer="alice")
        assert alice.verify() == 4
        assert [e.position for e in alice.entries()] == [1, 4, 7, 10]
        assert all(not e.redacted for e in alice.entries())
        # New entries come after every old one, and the chain continues.
        new = alice.append(b"after the upgrade")
        assert new.seq == 5 and new.position > len(written)
        assert alice.verify() == 5
        tail = list(store.feed(after=len(written)))
        assert [(e.stream, e.writer, e.seq, e.position) for e in tail] == [
            ("conv", "alice", 5, new.position)
        ]
        conv = [(e.writer, e.seq) for e in store.stream("conv").entries()]
        assert conv == [(w, s) for st, w, s in written if st == "conv"] + [("alice", 5)]
    # Idempotent: opening again changes nothing.
    with agentstore.open(pg_policy) as store:
        assert [e.position for e in store.feed()][: len(written)] == list(
            range(1, len(written) + 1)
        )
        assert store.log("conv", writer="alice").verify() == 5


def test_the_upgrade_keeps_rows_the_version_2_rules_refuse(
    pg_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    """A version 1 store may hold rows the later checks refuse (verify judges them):
    numbering the rows must not trip over those checks, and they stay in force."""
    make_v3_store(pg_conn, pg_schema)
    pg_conn.execute(
        "ALTER TABLE agentstore_log DROP CONSTRAINT agentstore_log_seq_positive, "
        "DROP CONSTRAINT agentstore_log_genesis"
    )
    pg_conn.execute(
        "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, content_hash) "
        "VALUES ('odd', 'w', 0, '\\x00', NULL, %s)",
        (b"\x01" * 32,),
    )
    pg_conn.execute(
        "ALTER TABLE agentstore_log ADD CONSTRAINT agentstore_log_seq_positive "
        "CHECK (seq >= 1) NOT VALID, ADD CONSTRAINT agentstore_log_genesis "
        "CHECK ((seq = 1) = (prev_hash IS NULL)) NOT VALID"
    )
    with agentstore.open(pg_policy) as store:
        assert len(list(store.feed())) == 13
        checks = pg_conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'agentstore_log'::regclass "
            "AND contype = 'c' ORDER BY conname"
        ).fetchall()
        assert [c[0] for c in checks] == [
            "agentstore_log_genesis",
            "agentstore_log_hash_size",
            "agentstore_log_idx_positive",
            "agentstore_log_seq_positive",
        ]
    with pytest.raises(psycopg.errors.CheckViolation):
        pg_conn.execute(
            "INSERT INTO agentstore_log (stream, writer, seq, payload, prev_hash, "
            "content_hash, idx) VALUES ('odd', 'w', -1, '\\x00', NULL, %s, 1)",
            (b"\x01" * 32,),
        )
