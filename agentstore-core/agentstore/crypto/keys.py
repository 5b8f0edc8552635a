"""Encryption keys: how they are written, read, named and kept out of sight.

A key is 32 random bytes written as URL-safe base64 (``agentstore keygen`` prints one).
A policy names keys only by reference, never inline:

.. code-block:: toml

    [store.encryption]
    key = { env = "AGENTSTORE_KEY" }        # or: key_file = "secrets/agentstore.key"
    # during a rotation, instead of key:
    # keys = [{ env = "NEW_KEY" }, { key_file = "old.key" }]   # the first encrypts

A key's id is the first 8 bytes of a BLAKE3 key derivation from it: it names the key in
envelopes, errors and CLI output without revealing anything of it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from blake3 import blake3

from agentstore._env_refs import is_env_ref
from agentstore._policy_wording import did_you_mean
from agentstore.crypto.envelope import (
    KEY_ID_SIZE,
    DecryptionFailed,
    aead,
    is_envelope,
    key_id_of,
    seal,
    unseal,
)
from agentstore.errors import (
    ConfigError,
    InvalidPolicy,
    KeyFileUnavailable,
    MissingEnvironmentVariable,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE: Final = 32
TABLE: Final = "encryption"
"""The key of the ``[store.encryption]`` table."""
TABLE_KEYS: Final = ("key", "key_file", "keys")
_KEYGEN_HINT: Final = "32 random bytes as URL-safe base64, as `agentstore keygen` prints"
_KEY_ID_CONTEXT: Final = "agentstore 2026-12-03 credential key id"


def generate_key() -> str:
    """A new key: 32 bytes from the operating system's CSPRNG, as URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_SIZE)).decode("ascii")


def parse_key(text: str, where: str) -> bytes:
    """The 32 bytes ``text`` encodes. The error names ``where``, never the text."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    alphabet = cleaned.rstrip("=").replace("-", "").replace("_", "")
    if len(raw) != KEY_SIZE or not alphabet.isalnum() or not alphabet.isascii():
        raise InvalidPolicy(f"{where} is not an encryption key: expected {_KEYGEN_HINT}")
    return raw


def key_id(key: bytes) -> bytes:
    """The 8-byte id naming ``key`` (a one-way derivation: it reveals nothing of the key)."""
    return blake3(key, derive_key_context=_KEY_ID_CONTEXT).digest(length=KEY_ID_SIZE)


class Keyring:
    """The keys a store encrypts and decrypts secrets with; the first one encrypts.

    Its repr and str show key ids only.
    """

    __slots__ = ("_ciphers", "_ids")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigError("a keyring needs at least one key")
        ids: list[bytes] = []
        for key in keys:
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise ConfigError(f"an encryption key is exactly {KEY_SIZE} bytes")
            kid = key_id(key)
            if kid in ids:
                raise ConfigError(f"key {kid.hex()} is listed twice")
            ids.append(kid)
        self._ids = tuple(ids)
        self._ciphers: dict[bytes, AESGCM] = {
            kid: aead(key) for kid, key in zip(ids, keys, strict=True)
        }

    @property
    def key_ids(self) -> list[str]:
        """Every key's id in hex, the encrypting key first."""
        return [kid.hex() for kid in self._ids]

    @property
    def primary(self) -> str:
        """The id of the key new secrets are encrypted under."""
        return self._ids[0].hex()

    def seal(self, name: str, plaintext: bytes) -> bytes:
        """``plaintext`` in an envelope for the secret ``name``, under the first key."""
        kid = self._ids[0]
        return seal(self._ciphers[kid], kid, name, plaintext)

    def unseal(self, name: str, stored: bytes) -> bytes:
        """The plaintext of the secret ``name`` stored as ``stored``.

        Raises:
            DecryptionFailed: ``stored`` is no envelope (the secret was stored unencrypted),
                its key is not in this keyring, or it fails authentication.
        """
        if not is_envelope(stored):
            raise DecryptionFailed(
                f"secret {name!r} is stored unencrypted although [store.encryption] is "
                "configured; run `agentstore rotate-key` to encrypt it"
            )
        kid = key_id_of(stored)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionFailed(
                f"secret {name!r} is encrypted under key {kid.hex()}, which is not among the "
                f"configured keys ({', '.join(self.key_ids)}); add that key to "
                "[store.encryption] keys"
            )
        plaintext = unseal(cipher, name, stored)
        if plaintext is None:
            raise DecryptionFailed(
                f"secret {name!r} failed authentication under key {kid.hex()}: its stored "
                "envelope was altered, truncated or moved from another secret's name"
            )
        return plaintext

    def is_current(self, stored: bytes) -> bool:
        """Whether ``stored`` is an envelope under the encrypting key (no rotation needed)."""
        return is_envelope(stored) and key_id_of(stored) == self._ids[0]

    def __repr__(self) -> str:
        return f"Keyring(key_ids={self.key_ids!r})"

    __str__ = __repr__


class LockedKeyring(Keyring):
    """The keyring of a store opened read-only whose keys could not be read: secret values
    can be neither read nor written (:class:`DecryptionFailed` saying why the keys were
    missing), while everything else, secrets' names included, reads as usual. So an
    auditor verifies chains and lists names without holding the keys."""

    __slots__ = ("_reason",)

    def __init__(self, reason: str) -> None:  # no keys: nothing to check
        self._ids: tuple[bytes, ...] = ()
        self._ciphers = {}
        self._reason = reason

    @property
    def primary(self) -> str:
        raise self._locked("new secrets")

    def seal(self, name: str, plaintext: bytes) -> bytes:
        raise self._locked(f"secret {name!r}")

    def unseal(self, name: str, stored: bytes) -> bytes:
        raise self._locked(f"secret {name!r}")

    def is_current(self, stored: bytes) -> bool:
        raise self._locked("a secret")

    def _locked(self, what: str) -> DecryptionFailed:
        return DecryptionFailed(
            f"{what}: the store was opened read-only without its encryption keys "
            f"({self._reason}); secret values can be neither read nor written"
        )

    def __repr__(self) -> str:
        return "Keyring(locked: opened read-only without its keys)"

    __str__ = __repr__


# -- the policy table ----------------------------------------------------------------------


def check_table(table: object, path: str = f"store.{TABLE}") -> None:
    """Refuse a misshapen ``[store.encryption]`` table as it is read, before any key is."""
    if not isinstance(table, Mapping):
        raise InvalidPolicy("must be a table", path=path)
    for name in table:
        if name not in TABLE_KEYS:
            raise InvalidPolicy(
                f"unknown key {name!r}{did_you_mean(str(name), TABLE_KEYS)} "
                f"(the keys are {', '.join(TABLE_KEYS)})",
                path=f"{path}.{name}",
            )
    given = [k for k in TABLE_KEYS if k in table]
    if len(given) != 1:
        raise InvalidPolicy(
            'write exactly one of key = { env = "NAME" }, key_file = "PATH" or keys = [...]',
            path=path,
        )
    if "key" in table:
        _check_source({"key": table["key"]}, f"{path}.key", inline="key")
    elif "key_file" in table:
        _check_source({"key_file": table["key_file"]}, f"{path}.key_file", inline=None)
    else:
        keys = table["keys"]
        if not isinstance(keys, list) or not keys:
            raise InvalidPolicy(
                'must be a non-empty list of { env = "NAME" } or { key_file = "PATH" }',
                path=f"{path}.keys",
            )
        for i, entry in enumerate(keys):
            _check_source(entry, f"{path}.keys[{i}]", inline=None)


def _check_source(entry: object, path: str, inline: str | None) -> None:
    if inline is not None:
        value = entry[inline] if isinstance(entry, Mapping) else None
        if is_env_ref(value):
            return
        raise InvalidPolicy(
            'a key is never written into the policy: write key = { env = "NAME" } or '
            'key_file = "PATH"',
            path=path,
        )
    if is_env_ref(entry):
        return
    if (
        isinstance(entry, Mapping)
        and set(entry) == {"key_file"}
        and isinstance(entry["key_file"], str)
        and entry["key_file"]
    ):
        return
    raise InvalidPolicy(
        'must be { env = "NAME" } or { key_file = "PATH" } (a key is never written inline)',
        path=path,
    )


def _sources(table: Mapping[str, Any], path: str) -> list[tuple[Any, str]]:
    if "key" in table:
        return [(table["key"], f"{path}.key")]
    if "key_file" in table:
        return [({"key_file": table["key_file"]}, f"{path}.key_file")]
    return [(entry, f"{path}.keys[{i}]") for i, entry in enumerate(table["keys"])]


def read_key(source: Any, base_dir: Path, path: str) -> bytes:
    """The key a checked source names: an environment variable, or a file that only its
    owner may read."""
    if is_env_ref(source):
        name = source["env"]
        text = os.environ.get(name)
        if text is None:
            raise MissingEnvironmentVariable(
                f"environment variable {name} is not set; set it to the key ({_KEYGEN_HINT})",
                path=path,
            )
        return parse_key(text, f"${name}")
    file = Path(source["key_file"]).expanduser()
    file = file if file.is_absolute() else base_dir / file
    try:
        mode = file.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidPolicy(
                f"key file {file} may be read by other users (mode {stat.S_IMODE(mode):o}); "
                f"run `chmod 600 {file}`",
                path=path,
            )
        text = file.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileUnavailable(f"key file {file} does not exist", path=path) from None
    except PermissionError as exc:
        raise KeyFileUnavailable(
            f"cannot read key file {file}: {exc.strerror}", path=path
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        # The reason only: a decoding error's text may quote the file's bytes.
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise InvalidPolicy(f"cannot read key file {file}: {reason}", path=path) from None
    return parse_key(text, f"key file {file}")


def keyring_from_table(
    table: Mapping[str, Any], base_dir: Path, path: str = f"store.{TABLE}"
) -> Keyring:
    """The keyring a checked ``[store.encryption]`` table names, every key read now."""
    return Keyring([read_key(src, base_dir, where) for src, where in _sources(table, path)])


__all__ = [
    "KEY_SIZE",
    "TABLE",
    "DecryptionFailed",
    "Keyring",
    "LockedKeyring",
    "check_table",
    "generate_key",
    "key_id",
    "keyring_from_table",
    "parse_key",
    "read_key",
]
