"""Secrets encrypted at rest: keys, envelopes, encrypting credential stores, rotation.

Configured by a policy's ``[store.encryption]`` table (see :mod:`agentstore.crypto.keys`);
encrypting needs the optional ``cryptography`` package (``agentstore-core[crypto]``), which
nothing imports until a store with a key is opened.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentstore.crypto.credentials import (
        MAX_ENCRYPTED_SECRET_BYTES,
        AsyncEncryptedCredentialStore,
        EncryptedCredentialStore,
        Rotation,
        rotate,
    )
    from agentstore.crypto.envelope import OVERHEAD, DecryptionFailed
    from agentstore.crypto.keys import Keyring, generate_key, key_id, keyring_from_table

# Loaded on first use: policy.py reads [store.encryption] through agentstore.crypto.keys,
# and opening a store without a key should load nothing else of this package.
_WHERE = {
    "MAX_ENCRYPTED_SECRET_BYTES": "credentials",
    "AsyncEncryptedCredentialStore": "credentials",
    "EncryptedCredentialStore": "credentials",
    "Rotation": "credentials",
    "rotate": "credentials",
    "OVERHEAD": "envelope",
    "DecryptionFailed": "envelope",
    "Keyring": "keys",
    "generate_key": "keys",
    "key_id": "keys",
    "keyring_from_table": "keys",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"agentstore.crypto.{module}"), name)


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
