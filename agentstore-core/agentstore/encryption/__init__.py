"""Secrets encrypted at rest: keys, envelopes, encrypting credential stores, rotation.

Configured by a policy's ``[store.encryption]`` table (see :mod:`agentstore.encryption.keys`);
encrypting needs the optional ``cryptography`` package (``agentstore-core[encryption]``), which
nothing imports until a store with a key is opened.
"""

from agentstore.encryption.credentials import (
    MAX_ENCRYPTED_SECRET_BYTES,
    AsyncEncryptedCredentialStore,
    EncryptedCredentialStore,
    Rotation,
    rotate,
)
from agentstore.encryption.envelope import OVERHEAD, DecryptionFailed
from agentstore.encryption.keys import Keyring, generate_key, key_id, keyring_from_table

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
