"""The one exception hierarchy every agentstore call raises.

Drivers translate their native exceptions into these classes and keep the original as
``__cause__``; callers never need to import a database client to handle a failure.
Messages never contain a secret (a password, a credential value).
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error agentstore raises.

    Attributes:
        message: the human-readable explanation, also the ``str()`` of the error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def native_error(what: str, exc: BaseException, kind: type[StoreError] | None = None) -> StoreError:
    """A StoreError for a driver's native exception ``exc``, kept as ``__cause__``.

    The message is ``what`` and the native type only: the native text may hold a password.
    """
    err = (kind or StoreError)(f"{what}: {type(exc).__module__}.{type(exc).__qualname__}")
    err.__cause__ = exc
    return err


class NotFound(StoreError, KeyError):
    """The record asked for does not exist (a policy, a session, a secret, an agent)."""

    def __str__(self) -> str:
        # KeyError would quote the message; keep it a plain sentence.
        return self.message


class Conflict(StoreError):
    """A write lost a race it cannot retry on its own, or contradicts stored state."""


class HeadMoved(Conflict):
    """A conditional append (``expect_head=``) found the log's head elsewhere; nothing was
    appended.

    Attributes:
        stream, writer: the log.
        expected: the head seq the caller expected (0 for an empty log).
        actual: the head seq found (0 for an empty log).
    """

    def __init__(self, stream: str, writer: str, expected: int, actual: int) -> None:
        super().__init__(
            f"log ({stream!r}, {writer!r}): expected head {expected} but the head is "
            f"{actual}; nothing was appended"
        )
        self.stream = stream
        self.writer = writer
        self.expected = expected
        self.actual = actual


class Unsupported(StoreError):
    """The driver serving a capability does not implement this operation (a driver written
    before the operation existed, or one that cannot offer it). Nothing was changed."""


class InvalidInput(StoreError, ValueError):
    """An argument was rejected before anything was stored (wrong type, empty, too long)."""


class ChainBroken(StoreError):
    """A hash-chained log failed verification at ``seq``.

    Raised for a gap, a reordering, an edited payload, an edited or broken link: ``seq`` is
    the first entry at which the stored chain stops being the chain that was appended.
    """

    def __init__(self, stream: str, writer: str, seq: int, detail: str) -> None:
        super().__init__(
            f"chain broken in stream {stream!r}, writer {writer!r} at seq {seq}: {detail}"
        )
        self.stream = stream
        self.writer = writer
        self.seq = seq
        self.detail = detail


class NonMonotonicGeneration(StoreError):
    """A generation was asked to move backward."""

    def __init__(self, name: str, current: int, requested: int) -> None:
        super().__init__(
            f"generation {name!r} is at {current}; refusing to move it back to {requested}"
        )
        self.name = name
        self.current = current
        self.requested = requested


class BackendUnavailable(StoreError):
    """The backend could not be reached or opened (server down, file unusable).

    The message names where it looked (host and port, or path), never a password.
    """


class StoreNotFound(BackendUnavailable):
    """Opening without creating (``create=False``, ``read_only=True``) found no agentstore
    store where the policy points: a missing file or schema, or storage that holds
    something else (an application's own tables only). Nothing was created.

    The message names the place (a path, or host, port, database and schema), never a
    password. A store agentstore created and left empty is found, not this.
    """


class SchemaVersionError(StoreError):
    """A database carries a schema this code cannot use (newer than it knows)."""


class DecryptionFailed(StoreError):
    """A stored secret cannot be decrypted: its key is not configured, it was stored
    unencrypted, or its envelope was altered, truncated or moved from another name. The
    message names the secret and the key id, never a value."""


class EventsMissed(StoreError):
    """A doorbell event stream (``agentstore.aio``: ``doorbell.events()``) fell behind.

    Raised after the stream yielded every event it kept; ``missed`` events committed after
    those were dropped. Start a new stream and read the logs from the last seq seen.
    """

    def __init__(self, missed: int) -> None:
        super().__init__(
            f"the doorbell consumer fell behind and missed {missed} event(s); read the logs "
            "from the last seq seen to catch up, and start a new events()"
        )
        self.missed = missed


class ConfigError(StoreError):
    """A StorePolicy could not be loaded or resolved against the installed drivers.

    Attributes:
        path: the TOML path of the problem (``store.sqlite.path``), when there is one.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class InvalidPolicy(ConfigError):
    """The policy text is not valid TOML, or a value has the wrong shape."""


class UnknownDriver(ConfigError):
    """A policy names a driver that is not installed."""


class MissingDriverSection(ConfigError):
    """A driver that needs configuration has no ``[store.<driver>]`` section."""


class MissingCapability(ConfigError):
    """A policy routes a capability to a driver that does not provide it."""


class DuplicateDriver(ConfigError):
    """Two installed distributions register the same driver name."""


class MissingEnvironmentVariable(ConfigError):
    """A ``{ env = "NAME" }`` reference names a variable that is not set."""


class KeyFileUnavailable(InvalidPolicy):
    """An encryption key file (``[store.encryption] key_file``) that does not exist or
    that this user may not read: the key is absent here, as with an unset variable."""


__all__ = [
    "BackendUnavailable",
    "ChainBroken",
    "ConfigError",
    "Conflict",
    "DecryptionFailed",
    "DuplicateDriver",
    "HeadMoved",
    "InvalidInput",
    "InvalidPolicy",
    "KeyFileUnavailable",
    "MissingCapability",
    "MissingDriverSection",
    "MissingEnvironmentVariable",
    "NonMonotonicGeneration",
    "NotFound",
    "SchemaVersionError",
    "StoreError",
    "StoreNotFound",
    "UnknownDriver",
    "Unsupported",
    "native_error",
]
