"""Credential stores that keep every secret encrypted at rest, and key rotation.

:class:`EncryptedCredentialStore` wraps any driver's :class:`CredentialStore`: the driver
only ever receives envelopes (see :mod:`agentstore.crypto.envelope`), so a secret's
plaintext reaches no database file, WAL, table, backup or replica. A secret's name is not
encrypted (the driver needs it to find the secret); it is bound to the envelope.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from agentstore.capabilities import CredentialStore
from agentstore.checks import MAX_SECRET_BYTES, check_name, check_payload
from agentstore.crypto.envelope import OVERHEAD, is_envelope
from agentstore.crypto.keys import Keyring
from agentstore.errors import Conflict, InvalidInput

MAX_ENCRYPTED_SECRET_BYTES: Final = MAX_SECRET_BYTES - OVERHEAD
"""The largest secret an encrypting store takes: its envelope must fit a driver's limit."""

_ROTATION_ATTEMPTS: Final = 8


def _check_value(name: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        # Name the type only: the value itself may be the secret.
        raise InvalidInput(f"a secret value must be bytes, not {type(value).__name__}")
    return check_payload(value, f"secret {name!r}", MAX_ENCRYPTED_SECRET_BYTES)


class EncryptedCredentialStore(CredentialStore):
    """A driver's credential store, every value sealed before it is stored.

    Guarantees beyond :class:`CredentialStore`: the driver stores only authenticated
    envelopes under the keyring's first key; a stored value that is not an envelope under
    a configured key, or fails authentication (edited, or moved from another name), raises
    :class:`~agentstore.crypto.DecryptionFailed` naming the secret and key id.
    """

    _max_value_bytes = MAX_ENCRYPTED_SECRET_BYTES

    def __init__(self, inner: CredentialStore, keyring: Keyring) -> None:
        self.inner = inner
        self.keyring = keyring

    def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` (at most :data:`MAX_ENCRYPTED_SECRET_BYTES`) encrypted."""
        key = check_name(name, "secret name")
        super().put_secret(key, _check_value(key, value))

    def _put_secret(self, name: str, value: bytes) -> None:
        self.inner._put_secret(name, self.keyring.seal(name, value))

    def _get_secret(self, name: str) -> bytes | None:
        stored = self.inner._get_secret(name)
        return None if stored is None else self.keyring.unseal(name, stored)

    def _delete_secret(self, name: str) -> None:
        self.inner._delete_secret(name)

    def _swap_secret(self, name: str, expected: bytes, value: bytes) -> bool:
        return self.inner._swap_secret(name, expected, value)

    def _list_secret_names(self, after: str | None) -> Iterator[str]:
        return self.inner._list_secret_names(after)

    def __repr__(self) -> str:
        return f"<EncryptedCredentialStore {self.keyring!r} over {self.inner!r}>"


class _AsyncCredentials(Protocol):
    async def put_secret(self, name: str, value: bytes) -> None: ...
    async def get_secret(self, name: str) -> bytes: ...
    async def delete_secret(self, name: str) -> None: ...
    def names(self, after: str | None = None) -> AsyncIterator[str]: ...


class AsyncEncryptedCredentialStore:
    """An asyncio credential store, every value sealed before the driver sees it."""

    def __init__(self, inner: _AsyncCredentials, keyring: Keyring) -> None:
        self.inner = inner
        self.keyring = keyring

    async def put_secret(self, name: str, value: bytes) -> None:
        """Store ``value`` (at most :data:`MAX_ENCRYPTED_SECRET_BYTES`) encrypted."""
        key = check_name(name, "secret name")
        checked = _check_value(key, value)
        await self.inner.put_secret(key, self.keyring.seal(key, checked))

    async def get_secret(self, name: str) -> bytes:
        """The decrypted value. Raises NotFound if absent, DecryptionFailed if it cannot
        be decrypted."""
        key = check_name(name, "secret name")
        return self.keyring.unseal(key, await self.inner.get_secret(key))

    async def delete_secret(self, name: str) -> None:
        """Remove the secret. Idempotent."""
        await self.inner.delete_secret(name)

    def names(self, after: str | None = None) -> AsyncIterator[str]:
        """Every secret's name (never a value), sorted, as the driver's store lists them."""
        return self.inner.names(after)

    def __repr__(self) -> str:
        return f"<AsyncEncryptedCredentialStore {self.keyring!r} over {self.inner!r}>"


@dataclass(frozen=True)
class Rotation:
    """What a key rotation did: secrets re-encrypted, already under the first key (left
    alone), and gone by the time they were reached (deleted meanwhile)."""

    rotated: int
    current: int
    vanished: int


def rotate(inner: CredentialStore, keyring: Keyring, names: Iterator[str]) -> Rotation:
    """Re-encrypt every secret in ``names`` under the keyring's first key.

    Secrets stored unencrypted are encrypted. Each secret is replaced by a compare-and-set
    (:meth:`CredentialStore._swap_secret`), so a value written concurrently is never
    overwritten with an older one; an interrupted rotation loses nothing (every secret is
    under one of the configured keys at every moment) and running it again finishes it.

    Raises:
        DecryptionFailed: a secret cannot be decrypted with any configured key; the
            secrets before it are rotated, it and the rest are untouched.
    """
    rotated = current = vanished = 0
    for name in names:
        for _ in range(_ROTATION_ATTEMPTS):
            stored = inner._get_secret(name)
            if stored is None:
                vanished += 1
                break
            if keyring.is_current(stored):
                current += 1
                break
            plaintext = keyring.unseal(name, stored) if is_envelope(stored) else stored
            if inner._swap_secret(name, stored, keyring.seal(name, plaintext)):
                rotated += 1
                break
        else:
            raise Conflict(f"secret {name!r} kept changing while it was rotated; run again")
    return Rotation(rotated, current, vanished)


__all__ = [
    "MAX_ENCRYPTED_SECRET_BYTES",
    "AsyncEncryptedCredentialStore",
    "EncryptedCredentialStore",
    "Rotation",
    "rotate",
]
