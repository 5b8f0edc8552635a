"""The cross-process doorbell: NOTIFY on commit, LISTEN in a background thread.

A committed append is announced on the channel ``agentstore:<schema>`` with a small JSON
payload naming the entry (never its payload bytes), its position and the store that
wrote it. Every store opened with ``notify = true`` on that schema listens and rings its
own doorbell for entries other stores committed; its own announcements it skips, since the
facade already rang for them. NOTIFY is delivered only when its transaction commits, so a
rolled-back append is never announced.

Imported only when a postgres store is opened (it imports psycopg).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Final

import psycopg
from agentstore.doorbell import Doorbell
from agentstore.types import CommitEvent
from psycopg import sql

from agentstore_postgres.forksafe import abandon

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


def deliver(payload: str, origin: str, doorbell: Doorbell) -> None:
    """Ring ``doorbell`` for the commit ``payload`` announces, unless it is not one of
    ours or the store ``origin`` made it (the facade has already rung for its own)."""
    parsed = parse_announcement(payload)
    if parsed is not None and parsed[0] != origin:
        doorbell.ring(parsed[1])


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
    ) -> None:
        self._conninfo = conninfo
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
                for note in conn.notifies(timeout=POLL_SECONDS):
                    self._deliver(note.payload)
                    if self._stop.is_set():
                        break
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
        deliver(payload, self._origin, self._doorbell)

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
            else:
                abandon(conn)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


__all__ = [
    "Listener",
    "announcement",
    "announcement_head",
    "channel_for",
    "deliver",
    "parse_announcement",
]
