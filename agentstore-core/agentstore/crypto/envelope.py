"""The authenticated-encryption envelope a secret is stored in.

Layout (all lengths fixed)::

    magic "ASE1" (4) | key id (8) | nonce (12) | AES-256-GCM ciphertext and tag (n + 16)

The associated data binds the header and the secret's name, so an envelope edited in any
byte, sealed under another key, or moved to another name fails authentication. ``ASE1``
names the algorithm: a later format gets a new magic and this one stays readable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from agentstore.errors import ConfigError, DecryptionFailed

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC: Final = b"ASE1"
KEY_ID_SIZE: Final = 8
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
HEADER_SIZE: Final = len(MAGIC) + KEY_ID_SIZE + NONCE_SIZE
OVERHEAD: Final = HEADER_SIZE + TAG_SIZE
"""Bytes an envelope adds to its secret."""

_AAD_PREFIX: Final = b"agentstore credential\x00"

CRYPTO_EXTRA: Final = "pip install 'agentstore-core[crypto]'"


def aead(key: bytes) -> AESGCM:
    """AES-256-GCM keyed with ``key`` (32 bytes), from the ``cryptography`` package."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # the optional extra is not installed
        raise ConfigError(
            f"[store.encryption] needs the cryptography package: {CRYPTO_EXTRA}"
        ) from None
    return AESGCM(key)


def is_envelope(value: bytes) -> bool:
    """Whether ``value`` has an envelope's shape (it may still fail authentication)."""
    return len(value) >= OVERHEAD and value[: len(MAGIC)] == MAGIC


def key_id_of(value: bytes) -> bytes:
    """The key id an envelope names (call only on :func:`is_envelope` values)."""
    return value[len(MAGIC) : len(MAGIC) + KEY_ID_SIZE]


def _aad(header: bytes, name: str) -> bytes:
    return _AAD_PREFIX + header + name.encode("utf-8")


def seal(cipher: AESGCM, key_id: bytes, name: str, plaintext: bytes) -> bytes:
    """``plaintext`` sealed for the secret ``name`` under the key ``key_id`` names."""
    header = MAGIC + key_id + os.urandom(NONCE_SIZE)
    nonce = header[len(MAGIC) + KEY_ID_SIZE :]
    return header + cipher.encrypt(nonce, plaintext, _aad(header, name))


def unseal(cipher: AESGCM, name: str, envelope: bytes) -> bytes | None:
    """The plaintext of ``envelope`` for the secret ``name``, or None when it fails
    authentication (edited, truncated, sealed under another key or for another name)."""
    from cryptography.exceptions import InvalidTag

    header = envelope[:HEADER_SIZE]
    nonce = header[len(MAGIC) + KEY_ID_SIZE :]
    try:
        return cipher.decrypt(nonce, envelope[HEADER_SIZE:], _aad(header, name))
    except InvalidTag:
        return None


__all__ = [
    "KEY_ID_SIZE",
    "MAGIC",
    "OVERHEAD",
    "DecryptionFailed",
    "is_envelope",
    "key_id_of",
    "seal",
    "unseal",
]
