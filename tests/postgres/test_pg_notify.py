"""The cross-process doorbell (``notify = true``): LISTEN/NOTIFY on the real server."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import agentstore
import agentstore_postgres
import psycopg
import pytest
from agentstore import CommitEvent, StoreError, StorePolicy
from pg_procs import Workers
from pg_server import pg_section


@pytest.fixture
def notify_policy(pg_schema: str) -> StorePolicy:
    return StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, notify=True)})


def reject_payload(conn: psycopg.Connection[Any], schema: str, payload: bytes) -> None:
    """Make any transaction that wrote ``payload`` fail at COMMIT, after its NOTIFY ran."""
    conn.execute(
        f"""
        CREATE FUNCTION {schema}.reject() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.payload = '\\x{payload.hex()}'::bytea THEN
                RAISE EXCEPTION 'rejected at commit';
            END IF;
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER reject AFTER INSERT ON {schema}.agentstore_log
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {schema}.reject();
        """
    )


def test_another_process_hears_every_commit_and_no_rollback(
    notify_policy: StorePolicy, pg_schema: str, pg_conn: psycopg.Connection[Any]
) -> None:
    local: list[CommitEvent] = []
    with agentstore.open(notify_policy) as store:
        reject_payload(pg_conn, pg_schema, b"doomed")
        store.doorbell.subscribe(local.append)
        listener = Workers(["listen", pg_schema, "8", "20"])
        try:
            listener.wait_ready()
            listener.procs[0].stdin.write("go\n")  # type: ignore[union-attr]
            listener.procs[0].stdin.flush()  # type: ignore[union-attr]
            log = store.log("conv", writer="alice")
            log.append(b"one")
            with pytest.raises(StoreError, match="rejected at commit"):
                log.append(b"doomed")  # NOTIFY ran, then COMMIT failed
            log.append(b"two")
            with pytest.raises(StoreError, match="rejected at commit"):
                log.append_many([b"three", b"doomed", b"four"])  # the whole batch fails
            log.append_many([b"five", b"six", b"seven"])
            store.log("conv", writer="bob").append(b"eight")
            store.log("conv", writer="alice").append(b"nine")
            store.log("other", writer="alice").append(b"ten")
            (result,) = listener.go(timeout=30)
        finally:
            listener.kill()
    heard = [CommitEvent(s, w, q, bytes.fromhex(h), p) for s, w, q, h, p in result["events"]]
    # The same events, in the same order per log, and nothing for what rolled back.
    assert len(local) == 8
    assert heard == local  # positions included
    assert all(e.position > 0 for e in heard)
    assert [e.seq for e in heard if (e.stream, e.writer) == ("conv", "alice")] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]


def test_a_store_does_not_hear_itself_twice(notify_policy: StorePolicy) -> None:
    got: list[CommitEvent] = []
    with agentstore.open(notify_policy) as store:
        store.doorbell.subscribe(got.append)
        store.log("s", writer="w").append(b"x")
        store.log("s", writer="w").append_many([b"y", b"z"])
        time.sleep(0.6)  # past the listener's poll: an echo would have arrived
    assert [e.seq for e in got] == [1, 2, 3]


def test_two_stores_in_one_process_hear_each_other(notify_policy: StorePolicy) -> None:
    heard = threading.Event()
    got: list[CommitEvent] = []

    def on_commit(event: CommitEvent) -> None:
        got.append(event)
        heard.set()

    with agentstore.open(notify_policy) as a, agentstore.open(notify_policy) as b:
        b.doorbell.subscribe(on_commit)
        entry = a.log("s", writer="w").append(b"x")
        assert heard.wait(5)
    assert got == [CommitEvent("s", "w", 1, entry.content_hash, entry.position)]


def test_notify_is_off_by_default(pg_policy: StorePolicy, notify_policy: StorePolicy) -> None:
    got: list[CommitEvent] = []
    with agentstore.open(notify_policy) as listening, agentstore.open(pg_policy) as quiet:
        listening.doorbell.subscribe(got.append)
        quiet.log("s", writer="w").append(b"x")  # announces nothing
        time.sleep(0.6)
    assert got == []


def test_close_stops_the_listener(
    notify_policy: StorePolicy, pg_conn: psycopg.Connection[Any], pg_schema: str
) -> None:
    def listeners() -> int:
        row = pg_conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s",
            (f'LISTEN "agentstore:{pg_schema}"',),
        ).fetchone()
        return int(row[0]) if row else 0

    before = {t.name for t in threading.enumerate()}
    store = agentstore.open(notify_policy)
    assert listeners() == 1
    started = {t.name for t in threading.enumerate()} - before
    assert any(name.startswith("agentstore-listen") for name in started)
    store.close()
    deadline = time.monotonic() + 5  # the server ends a closed session's backend shortly after
    while listeners() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listeners() == 0
    assert not any(t.name.startswith("agentstore-listen") for t in threading.enumerate())


def test_the_listener_reconnects_after_losing_its_connection(
    pg_schema: str, pg_conn: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = f"agentstore-test-{uuid.uuid4().hex[:8]}"
    listening = StorePolicy(
        "postgres", sections={"postgres": pg_section(pg_schema, notify=True, application_name=app)}
    )
    announcing = StorePolicy("postgres", sections={"postgres": pg_section(pg_schema, notify=True)})

    def listener_pids() -> set[int]:
        rows = pg_conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND query LIKE 'LISTEN%%'",
            (app,),
        ).fetchall()
        return {int(r[0]) for r in rows}

    heard: list[CommitEvent] = []
    got = threading.Event()
    with agentstore.open(listening) as a, agentstore.open(announcing) as b:
        a.doorbell.subscribe(lambda e: (heard.append(e), got.set()))
        (old,) = listener_pids()
        pg_conn.execute("SELECT pg_terminate_backend(%s)", (old,))
        deadline = time.monotonic() + 10
        while not (listener_pids() - {old}) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listener_pids() - {old}, "the listener did not reconnect"
        entry = b.log("s", writer="w").append(b"after the outage")
        assert got.wait(5)
    assert heard == [CommitEvent("s", "w", 1, entry.content_hash, entry.position)]
    assert "reconnecting" in caplog.text


def test_a_store_on_an_application_connection_announces_only_real_commits(
    notify_policy: StorePolicy, pg_url: str, pg_schema: str
) -> None:
    app = psycopg.connect(pg_url)
    app.execute(f"CREATE SCHEMA {pg_schema}")
    app.execute(f"SET search_path = {pg_schema}")
    app.commit()
    pooled_heard: list[CommitEvent] = []
    seam_heard: list[CommitEvent] = []
    try:
        with (
            agentstore_postgres.open_on_connection(app, notify=True) as seam,
            agentstore.open(notify_policy) as pooled,
        ):
            pooled.doorbell.subscribe(pooled_heard.append)
            seam.doorbell.subscribe(seam_heard.append)
            log = seam.log("orders", writer="shop")
            with pytest.raises(RuntimeError), app.transaction():
                log.append(b"rolled back with the order")
                raise RuntimeError("the application rolls back")
            with app.transaction():
                committed = log.append(b"committed with the order")
            entry = pooled.log("orders", writer="back-office").append(b"seen by the seam")
            deadline = time.monotonic() + 5
            while (len(pooled_heard) < 2 or len(seam_heard) < 3) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # room for anything that should not arrive
    finally:
        app.close()
    # The seam's local doorbell rang for both of its appends (before the real commit);
    # the other store heard only the one that committed.
    assert [e.seq for e in seam_heard[:2]] == [1, 1]
    assert seam_heard[2:] == [
        CommitEvent("orders", "back-office", 1, entry.content_hash, entry.position)
    ]
    assert sorted(pooled_heard) == sorted(
        [
            CommitEvent(
                "orders", "shop", 1, committed.content_hash, committed.position
            ),  # heard, once committed
            CommitEvent(
                "orders", "back-office", 1, entry.content_hash, entry.position
            ),  # its own, rung locally
        ]
    )
