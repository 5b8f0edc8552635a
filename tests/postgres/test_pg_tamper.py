"""Tamper evidence on PostgreSQL: edits made with psycopg behind the store's back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import agentstore
import psycopg
import pytest
from agentstore import ChainBroken, StorePolicy
from psycopg import sql

LENGTH = 12
WHERE = "stream = 'shared' AND writer = 'w'"
Tamper = Callable[[psycopg.Connection[Any]], None]


def _build(policy: StorePolicy) -> None:
    with agentstore.open(policy) as store:
        log = store.log("shared", writer="w")
        log.append_many([f"entry {i}".encode() for i in range(1, LENGTH)])
        log.append(f"entry {LENGTH}".encode())
        store.log("shared", writer="other").append(b"untouched")
        assert log.verify() == LENGTH


def _run(pg_conn: psycopg.Connection[Any], schema: str, statement: str) -> None:
    pg_conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    pg_conn.execute(statement.encode())  # type: ignore[call-overload]


def _broken(policy: StorePolicy) -> ChainBroken:
    with agentstore.open(policy) as store:
        assert store.log("shared", writer="other").verify() == 1
        with pytest.raises(ChainBroken) as info:
            store.log("shared", writer="w").verify()
    assert (info.value.stream, info.value.writer) == ("shared", "w")
    return info.value


# (statement, the seq verify must name)
CASES: dict[str, tuple[str, int]] = {
    "delete the last row": (f"DELETE FROM agentstore_log WHERE {WHERE} AND seq = {LENGTH}", LENGTH),
    "delete the last two rows": (
        f"DELETE FROM agentstore_log WHERE {WHERE} AND seq >= {LENGTH - 1}",
        LENGTH - 1,
    ),
    "delete all rows": (f"DELETE FROM agentstore_log WHERE {WHERE}", 1),
    "delete a middle row": (f"DELETE FROM agentstore_log WHERE {WHERE} AND seq = 5", 5),
    "edit a payload": (
        f"UPDATE agentstore_log SET payload = '\\x00'::bytea WHERE {WHERE} AND seq = 7",
        7,
    ),
    "stray row past the head": (
        "INSERT INTO agentstore_log VALUES "
        f"('shared', 'w', {LENGTH + 1}, '\\x00', decode(repeat('00', 32), 'hex'), "
        "decode(repeat('00', 32), 'hex'), DEFAULT, 1)",
        LENGTH + 1,
    ),
    "head moved back": (
        f"UPDATE agentstore_log_heads h SET seq = {LENGTH - 3}, content_hash = l.content_hash "
        f"FROM agentstore_log l WHERE l.stream = h.stream AND l.writer = h.writer "
        f"AND l.seq = {LENGTH - 3} AND h.stream = 'shared' AND h.writer = 'w'",
        LENGTH - 2,
    ),
    "head moved forward": (
        f"UPDATE agentstore_log_heads SET seq = {LENGTH + 2} WHERE {WHERE}",
        LENGTH + 1,
    ),
    "head hash edited": (
        f"UPDATE agentstore_log_heads SET content_hash = decode(repeat('00', 32), 'hex') "
        f"WHERE {WHERE}",
        LENGTH,
    ),
    "head deleted": (f"DELETE FROM agentstore_log_heads WHERE {WHERE}", 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_names_the_first_broken_seq(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str, case: str
) -> None:
    statement, expected = CASES[case]
    _build(pg_policy)
    _run(pg_conn, pg_schema, statement)
    assert _broken(pg_policy).seq == expected


def test_truncation_is_reported_as_such(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    _build(pg_policy)
    _run(pg_conn, pg_schema, f"DELETE FROM agentstore_log WHERE {WHERE} AND seq >= 10")
    broken = _broken(pg_policy)
    assert broken.seq == 10
    assert broken.detail == f"entries 10..{LENGTH} missing: the log was truncated"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO agentstore_log VALUES ('shared', 'w', 0, '\\x00', NULL, "
        "decode(repeat('00', 32), 'hex'), DEFAULT, 1)",
        "INSERT INTO agentstore_log VALUES ('shared', 'w', -3, '\\x00', NULL, "
        "decode(repeat('00', 32), 'hex'), DEFAULT, 1)",
        f"UPDATE agentstore_log SET content_hash = '\\x00' WHERE {WHERE} AND seq = 3",
        f"UPDATE agentstore_log SET prev_hash = NULL WHERE {WHERE} AND seq = 3",
        f"UPDATE agentstore_log SET prev_hash = decode(repeat('00', 32), 'hex') "
        f"WHERE {WHERE} AND seq = 1",
        f"UPDATE agentstore_log SET seq = 0 WHERE {WHERE} AND seq = 1",
        f"UPDATE agentstore_log_heads SET seq = 0 WHERE {WHERE}",
        f"UPDATE agentstore_log_heads SET content_hash = '\\x00' WHERE {WHERE}",
    ],
)
def test_the_database_refuses_malformed_rows(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str, statement: str
) -> None:
    _build(pg_policy)
    with pytest.raises(psycopg.errors.CheckViolation):
        _run(pg_conn, pg_schema, statement)
    with agentstore.open(pg_policy) as store:
        assert store.log("shared", writer="w").verify() == LENGTH


@pytest.mark.parametrize("cached", [True, False])
def test_an_append_after_truncation_is_refused(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str, cached: bool
) -> None:
    # The postgres insert is guarded by the entry it chains to: with the recorded head
    # deleted, the append fails naming the first missing entry, and nothing is written.
    _build(pg_policy)
    with agentstore.open(pg_policy) as store:
        log = store.log("shared", writer="w")
        if cached:
            log.append(b"warm the cached head")
        last = LENGTH + 1 if cached else LENGTH
        _run(pg_conn, pg_schema, f"DELETE FROM agentstore_log WHERE {WHERE} AND seq = {last}")
        with pytest.raises(ChainBroken) as info:
            log.append(b"after the deletion")
        assert info.value.seq == last
        with pytest.raises(ChainBroken):
            log.append_many([b"a", b"b"])
        assert log.head() is not None
        assert log.head().seq == last - 1  # type: ignore[union-attr]


def test_a_fully_deleted_log_is_still_listed(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    _build(pg_policy)
    _run(pg_conn, pg_schema, f"DELETE FROM agentstore_log WHERE {WHERE}")
    with agentstore.open(pg_policy) as store:
        assert ("shared", "w") in store.logs()


def test_a_batch_moves_the_head_once_to_its_last_entry(
    pg_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    _build(pg_policy)
    _run(pg_conn, pg_schema, "SELECT 1")
    rows = pg_conn.execute(
        "SELECT l.seq, l.content_hash = h.content_hash FROM agentstore_log_heads h "
        "JOIN agentstore_log l USING (stream, writer, seq) "
        "WHERE h.stream = 'shared' AND h.writer = 'w'"
    ).fetchall()
    assert rows == [(LENGTH, True)]
