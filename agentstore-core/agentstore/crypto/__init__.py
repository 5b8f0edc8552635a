"""Secrets encrypted at rest: keys, envelopes, encrypting credential stores, rotation.

Configured by a policy's ``[store.encryption]`` table (see :mod:`agentstore.crypto.keys`);
encrypting needs the optional ``cryptography`` package (``agentstore-core[crypto]``), which
nothing imports until a store with a key is opened.
"""

from agentstore.crypto.credentials import (
    MAX_ENCRYPTED_SECRET_BYTES,
    AsyncEncryptedCredentialStore,
    EncryptedCredentialStore,
    Rotation,
    rotate,
)
from agentstore.crypto.envelope import OVERHEAD, DecryptionFailed
from agentstore.crypto.keys import Keyring, generate_key, key_id, keyring_from_table

__all__ = [
    "MAX_ENCRYPTED_SECRET_BYTES",
    "OVERHEAD",
    "AsyncEncryptedCredentialStore",
    "DecryptionFailed",
    "EncryptedCredentialStore",
    "Keyring",
    "Rotation",
    "generate_key",
    "key_id",
    "keyring_from_table",
    "rotate",
]
