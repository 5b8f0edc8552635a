"""The cross-process doorbell: NOTIFY on commit, LISTEN in a background thread.

A committed append is announced on the channel ``agentstore:<schema>`` with a small JSON
payload naming the entry (never its payload bytes), its position and the store that
wrote it. Every store opened with ``notify = true`` on that schema listens and rings its
own doorbell for entries other stores committed; its own announcements it skips, since the
facade already rang for them. NOTIFY is delivered only when its transaction commits, so a
rolled-back append is never announced.

On a schema with row-level security (:mod:`agentstore_postgres.rls`) an announcement
names nothing but its store and position: any role that may connect may LISTEN on any
channel, so a stream's name would reach other tenants. A listener reads the entry at that
position back with its own role, which sees only its tenant's rows, and rings for it only
if it is there.

Imported only when a postgres store is opened (it imports psycopg).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, Final

import psycopg
from agentstore.doorbell import Doorbell
from agentstore.types import CommitEvent
from psycopg import sql

from agentstore_postgres.backend import is_connection_error
from agentstore_postgres.forksafe import abandon
from agentstore_postgres.positions import event, split

log = logging.getLogger("agentstore.postgres")

CHANNEL_PREFIX: Final = "agentstore:"
POLL_SECONDS: Final = 0.2
RECONNECT_SECONDS: Final = 1.0


def channel_for(schema: str) -> str:
    """The NOTIFY channel of the store kept in ``schema``."""
    return CHANNEL_PREFIX + schema


def announcement(
    origin: str, stream: str, writer: str, seq: int, content_hash: bytes, *, position: int = 0
) -> str:
    """The NOTIFY payload for one committed entry (under PostgreSQL's 8000-byte limit)."""
    return announcement_head(origin, stream, writer, seq, content_hash) + f"{position}}}"


def announcement_head(origin: str, stream: str, writer: str, seq: int, content_hash: bytes) -> str:
    """:func:`announcement` up to its position: an insert closes it in SQL with the
    position it got (``... || position || '}'``)."""
    body = json.dumps(
        {"o": origin, "s": stream, "w": writer, "q": seq, "h": content_hash.hex()},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return body[:-1] + ',"p":'


def anonymous_head(origin: str) -> str:
    """:func:`announcement_head` naming no entry (row-level security): the position that
    SQL appends is all a listener learns."""
    return json.dumps({"o": origin}, separators=(",", ":"))[:-1] + ',"p":'


def anonymous(origin: str, position: int) -> str:
    """The payload of :func:`anonymous_head` with its position."""
    return anonymous_head(origin) + f"{position}}}"


# The entry at a position, as the listener's role may see it (RLS hides other tenants').
LOOKUP: Final = (
    "SELECT l.tx::text, l.idx, l.stream, l.writer, l.seq, l.content_hash "
    "FROM {}.agentstore_log AS l WHERE l.tx = %s::xid8 AND l.idx = %s"
)


def lookup_query(schema: str) -> sql.Composed:
    """:data:`LOOKUP` on ``schema``'s log."""
    return sql.SQL(LOOKUP).format(sql.Identifier(schema))


def parse_anonymous(text: str) -> tuple[str, int] | None:
    """``(origin, position)`` from an :func:`anonymous` payload, else None."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or "s" in data:
            return None
        return str(data["o"]), int(data["p"])
    except (ValueError, KeyError, TypeError):
        return None


def parse_announcement(text: str) -> tuple[str, CommitEvent] | None:
    """``(origin, event)`` from a payload, or None if it is not one of ours. An
    announcement from a store older than positions has none: its event's is 0."""
    try:
        data = json.loads(text)
        event = CommitEvent(
            str(data["s"]),
            str(data["w"]),
            int(data["q"]),
            bytes.fromhex(data["h"]),
            int(data.get("p", 0)),
        )
        return str(data["o"]), event
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def deliver(
    payload: str,
    origin: str,
    doorbell: Doorbell,
    resolve: Callable[[int], CommitEvent | None] | None = None,
    *,
    names: bool = True,
) -> None:
    """Ring ``doorbell`` for the commit ``payload`` announces, unless it is not one of
    ours or the store ``origin`` made it (the facade has already rung for its own). An
    anonymous announcement is rung for what ``resolve(position)`` finds, if anything.
    With ``names`` False (a schema with row-level security) an announcement naming its
    entry rings nothing: any role may NOTIFY, so its names could be a forgery."""
    parsed = parse_announcement(payload)
    if parsed is not None:
        if names and parsed[0] != origin:
            doorbell.ring(parsed[1])
        return
    found = parse_anonymous(payload)
    if found is not None and found[0] != origin and resolve is not None:
        event = resolve(found[1])
        if event is not None:
            doorbell.ring(event)


class Listener:
    """A thread that LISTENs on one channel and rings a doorbell for others' commits.

    :meth:`start` returns once the LISTEN is in place: every commit announced after it
    returns is delivered (unless the connection is lost; it reconnects, and commits
    announced while it was down are not replayed: readers catch up from the log itself).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        channel: str,
        origin: str,
        doorbell: Doorbell,
        where: str,
        schema: str | None = None,
        names: bool = True,
    ) -> None:
        self._conninfo = conninfo
        self._schema = schema
        self._names = names
        self._channel = channel
        self._origin = origin
        self._doorbell = doorbell
        self._where = where
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def start(self) -> None:
        """Connect and LISTEN (raising BackendUnavailable like any connect), then run."""
        self._pid = os.getpid()
        self._conn = self._connect()
        self._run_thread()
        log.info("doorbell listener on %s: LISTEN %s", self._where, self._channel)

    def _run_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"agentstore-listen-{self._channel}", daemon=True
        )
        self._thread.start()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = self._conn
            try:
                if conn is None or conn.closed:
                    conn = self._conn = self._connect()
                # One batch at a time: the generator holds the connection, which an
                # anonymous announcement's lookup needs.
                notes = [n.payload for n in conn.notifies(timeout=POLL_SECONDS, stop_after=1)]
                for payload in notes:
                    if self._stop.is_set():
                        break
                    self._deliver(payload)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                # Host and port only: the message of a connect error carries no password,
                # and nothing else of the connection string is shown.
                log.warning(
                    "doorbell listener on %s lost its connection (%s); reconnecting",
                    self._where,
                    type(exc).__name__,
                )
                if conn is not None:
                    conn.close()
                self._conn = None
                self._stop.wait(RECONNECT_SECONDS)

    def _deliver(self, payload: str) -> None:
        deliver(payload, self._origin, self._doorbell, self._resolve, names=self._names)

    def _resolve(self, position: int) -> CommitEvent | None:
        """The entry at ``position`` as this listener's role sees it (None: not there)."""
        conn = self._conn
        if conn is None or self._schema is None:
            return None
        try:
            row = conn.execute(lookup_query(self._schema), split(position)).fetchone()
        except psycopg.Error as exc:
            if is_connection_error(exc):
                raise  # the loop reconnects
            log.warning(
                "doorbell listener on %s cannot read an announced entry (%s)",
                self._where,
                type(exc).__name__,
            )
            return None
        return None if row is None else event(row)

    def renew_in_child(self, origin: str) -> None:
        """In a forked child: leave the parent's connection alone (never close it: that
        would end the parent's LISTEN) and listen anew from this process as ``origin``."""
        if self._pid == os.getpid() or self._stop.is_set():
            return  # not forked, or closed (or handed over to agentstore.aio's listener)
        abandon(self._conn)
        self._conn = None
        self._thread = None  # threads do not survive fork
        self._stop = threading.Event()
        self._origin = origin
        self._pid = os.getpid()
        try:
            self._conn = self._connect()
        except psycopg.Error as exc:
            # The thread keeps trying, as after a lost connection.
            log.warning(
                "doorbell listener on %s cannot connect (%s); retrying",
                self._where,
                type(exc).__name__,
            )
        self._run_thread()

    def close(self) -> None:
        """Stop the thread and close its connection. Idempotent. In a forked child that
        never renewed it, the parent's connection is left to the parent."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(POLL_SECONDS * 10)
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._pid == os.getpid():
                conn.close()
                log.info("doorbell listener on %s stopped", self._where)
            else:
                abandon(conn)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


__all__ = [
    "Listener",
    "announcement",
    "announcement_head",
    "anonymous",
    "anonymous_head",
    "channel_for",
    "deliver",
    "lookup_query",
    "parse_announcement",
    "parse_anonymous",
]
