"""Signed checkpoints: a writer's ed25519 signature over its log's head, so that
verification proves authorship, not only integrity.

A writer holding a signing key records, after every append call commits, a checkpoint
on the reserved stream :data:`CHECKPOINT_STREAM` (one log per writer): the signature over
``(stream, writer, seq, content_hash)`` of the head it just wrote. Since every entry's
hash covers the entry before it, one signed head vouches for the whole chain up to it.
The stream signed is the stored name (:func:`signed_stream`): in a tenant's view,
``agentstore:t:<tenant>:<stream>``, so a tenant's checkpoints vouch for its own chains
only, wherever their rows are copied.

:func:`verify_signed` then proves that every stored entry is covered by a checkpoint whose
key is trusted and whose signature is valid: a chain rewritten from some seq, with a new
recorded head, by someone without a trusted key, fails with ChainBroken naming the first
seq no valid signature covers. A holder of a trusted key can still rewrite; a checkpoint
is written after its append commits, so a crash between the two leaves the last entries
uncovered until the writer's next signed append (or :meth:`SignedWriterLog.sign_head`).
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol, Union

from agentstore.audit import AUDIT_STREAM, AUDIT_WRITER, LogAuditSink
from agentstore.capabilities import AuditSink, WriterLogStore
from agentstore.checks import RESERVED_PREFIX
from agentstore.crypto.envelope import CRYPTO_EXTRA
from agentstore.errors import ChainBroken, ConfigError, InvalidInput
from agentstore.types import AuditEntry, AuditRecord, Entry, Fingerprint

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

_log = logging.getLogger("agentstore")

CHECKPOINT_STREAM: Final = RESERVED_PREFIX + "checkpoints"
"""The reserved stream holding signed checkpoints; the log of writer ``w`` holds ``w``'s."""

_DOMAIN: Final = b"agentstore checkpoint v1\x00"

SigningKey = Union[bytes, "Ed25519PrivateKey"]
"""A 32-byte ed25519 private key seed, or a ``cryptography`` Ed25519PrivateKey."""
TrustedKey = Union[Fingerprint, str, bytes, "Ed25519PublicKey"]
"""A writer identity to trust: its Fingerprint (or 64 hex digits of one), or its raw
32-byte public key (or a ``cryptography`` Ed25519PublicKey)."""


def _ed25519() -> object:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ConfigError(
            f"signed checkpoints need the cryptography package: {CRYPTO_EXTRA}"
        ) from None
    return ed25519


def checkpoint_message(stream: str, writer: str, seq: int, content_hash: bytes) -> bytes:
    """The exact bytes a checkpoint signs: unambiguous (length-prefixed names)."""
    s, w = stream.encode("utf-8"), writer.encode("utf-8")
    return b"".join(
        (
            _DOMAIN,
            struct.pack(">I", len(s)),
            s,
            struct.pack(">I", len(w)),
            w,
            struct.pack(">Q", seq),
            content_hash,
        )
    )


class Signer:
    """An ed25519 key held by an agent's process; its repr shows the fingerprint only."""

    __slots__ = ("_key", "fingerprint", "public_key")

    def __init__(self, key: SigningKey) -> None:
        from cryptography.hazmat.primitives import serialization

        ed = _ed25519()
        private_type = ed.Ed25519PrivateKey  # type: ignore[attr-defined]
        if isinstance(key, bytes | bytearray):
            if len(key) != 32:
                raise InvalidInput("an ed25519 signing key is a 32-byte private key seed")
            key = private_type.from_private_bytes(bytes(key))
        if not isinstance(key, private_type):
            raise InvalidInput(
                "signing_key must be 32 bytes or a cryptography Ed25519PrivateKey, "
                f"not {type(key).__name__}"
            )
        self._key = key
        self.public_key: bytes = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.fingerprint = Fingerprint.of_public_key(self.public_key)

    def checkpoint(self, entry: Entry) -> bytes:
        """The checkpoint payload vouching for ``entry`` as its log's head."""
        message = checkpoint_message(entry.stream, entry.writer, entry.seq, entry.content_hash)
        signature: bytes = self._key.sign(message)
        doc = {
            "v": 1,
            "stream": entry.stream,
            "seq": entry.seq,
            "hash": entry.content_hash.hex(),
            "key": self.public_key.hex(),
            "sig": signature.hex(),
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def __repr__(self) -> str:
        return f"Signer(fingerprint={self.fingerprint.hex()!r})"

    __str__ = __repr__


class Checkpoints(Protocol):
    """What signs a log's head: :class:`Signer`, or any object with its ``checkpoint``."""

    def checkpoint(self, entry: Entry) -> bytes: ...


def signed_stream(logs: WriterLogStore, stream: str) -> str:
    """The name a checkpoint of ``stream`` on ``logs`` signs: the name the storage keeps
    (a tenant view's logs give their namespaced name, others ``stream`` itself)."""
    stored = getattr(logs, "_stored_name", None)
    return stream if stored is None else str(stored(stream))


def checkpoint_of(logs: WriterLogStore, signer: Checkpoints, head: Entry) -> bytes:
    """The checkpoint payload ``signer`` writes for ``head`` of a log on ``logs``."""
    return signer.checkpoint(head._replace(stream=signed_stream(logs, head.stream)))


def record_checkpoint(logs: WriterLogStore, signer: Checkpoints, head: Entry) -> None:
    """Write the signed checkpoint of ``head``, an entry already committed. A failure is
    logged, never raised: the caller must not retry a committed append, and its entries
    stay unsigned only until the writer's next signed append (or ``sign_head()``)."""
    try:
        logs._append(CHECKPOINT_STREAM, head.writer, checkpoint_of(logs, signer, head))
    except Exception as exc:
        _log.warning(
            "log (%r, %r): seq %d committed but its signed checkpoint was not written (%s); "
            "it is covered by the next signed append",
            head.stream,
            head.writer,
            head.seq,
            type(exc).__name__,
        )


class SignedAuditSink(AuditSink):
    """An audit sink whose every emit also records a signed checkpoint of the audit
    chain's head: ``store.signed_audit(signing_key)``."""

    def __init__(self, inner: LogAuditSink, signer: Signer) -> None:
        self.inner = inner
        self.signer = signer

    def _emit(self, entry: AuditEntry) -> AuditRecord:
        record = self.inner._emit(entry)
        head = Entry(
            AUDIT_STREAM, AUDIT_WRITER, record.seq, b"", record.prev_hash, record.content_hash
        )
        record_checkpoint(self.inner.log_store, self.signer, head)
        return record

    def _records(self, after: int) -> Iterator[AuditRecord]:
        return self.inner._records(after)

    def _verify(self) -> int:
        return self.inner._verify()

    def _verify_signed(self, trusted: Iterable[Any]) -> int:
        return self.inner._verify_signed(trusted)

    def __repr__(self) -> str:
        return f"<SignedAuditSink {self.signer!r}>"


def fingerprints(trusted: Iterable[TrustedKey]) -> frozenset[Fingerprint]:
    """The fingerprints of ``trusted`` keys, each form checked."""
    found = set()
    for item in trusted:
        if isinstance(item, Fingerprint):
            found.add(item)
        elif isinstance(item, str):
            found.add(Fingerprint.from_hex(item))
        elif isinstance(item, bytes):
            found.add(Fingerprint.of_public_key(item))
        else:
            from cryptography.hazmat.primitives import serialization

            ed = _ed25519()
            if not isinstance(item, ed.Ed25519PublicKey):  # type: ignore[attr-defined]
                raise InvalidInput(
                    "a trusted key is a Fingerprint, 64 hex digits, a 32-byte public key or "
                    f"an Ed25519PublicKey, not {type(item).__name__}"
                )
            raw = item.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            found.add(Fingerprint.of_public_key(raw))
    if not found:
        raise InvalidInput("trusted names no key: pass at least one fingerprint or public key")
    return frozenset(found)


class TrustList:
    """Who may sign which writer's chains, as ``agentstore verify --trust FILE`` reads it.

    One key per line: 64 hex digits of a fingerprint, or ``ed25519:`` and 64 hex digits
    of a public key, optionally followed by the writers it may sign for (none: any
    writer). ``#`` starts a comment.
    """

    def __init__(self, entries: Iterable[tuple[Fingerprint, frozenset[str] | None]]) -> None:
        self.entries = list(entries)

    @classmethod
    def parse(cls, text: str, source: str = "trust file") -> TrustList:
        """Read a trust file's text.

        Raises:
            InvalidInput: a line that names no key, naming its line number.
        """
        entries: list[tuple[Fingerprint, frozenset[str] | None]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            key, writers = words[0], frozenset(words[1:]) or None
            try:
                if key.startswith("ed25519:"):
                    fp = Fingerprint.of_public_key(bytes.fromhex(key[len("ed25519:") :]))
                else:
                    fp = Fingerprint.from_hex(key)
            except (InvalidInput, ValueError):
                raise InvalidInput(
                    f"{source}, line {number}: expected a fingerprint (64 hex digits) or "
                    "ed25519:<64 hex digits of a public key>, then optional writer names"
                ) from None
            entries.append((fp, writers))
        if not entries:
            raise InvalidInput(f"{source} names no key")
        return cls(entries)

    def for_writer(self, writer: str) -> list[Fingerprint]:
        """The keys trusted to sign ``writer``'s chains."""
        return [fp for fp, writers in self.entries if writers is None or writer in writers]


def _claims(
    logs: WriterLogStore, stream: str, writer: str, trusted: frozenset[Fingerprint]
) -> dict[int, set[bytes]]:
    """seq -> the content hashes that a valid signature of a trusted key vouches for."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    claims: dict[int, set[bytes]] = {}
    keys: dict[bytes, Ed25519PublicKey | None] = {}
    signed = signed_stream(logs, stream)
    for e in logs._entries(CHECKPOINT_STREAM, writer, 0):
        try:
            doc = json.loads(e.payload)
            if doc.get("v") != 1 or doc.get("stream") != signed:
                continue
            seq, digest = int(doc["seq"]), bytes.fromhex(doc["hash"])
            raw, sig = bytes.fromhex(doc["key"]), bytes.fromhex(doc["sig"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # not a checkpoint this code wrote: it vouches for nothing
        if raw not in keys:
            ok = len(raw) == 32 and Fingerprint.of_public_key(raw) in trusted
            keys[raw] = Ed25519PublicKey.from_public_bytes(raw) if ok else None
        key = keys[raw]
        if key is None or len(digest) != 32:
            continue
        try:
            key.verify(sig, checkpoint_message(signed, writer, seq, digest))
        except InvalidSignature:
            continue
        claims.setdefault(seq, set()).add(digest)
    return claims


def verify_signed(
    logs: WriterLogStore, stream: str, writer: str, trusted: Iterable[TrustedKey]
) -> int:
    """Verify the chain (as ``WriterLog.verify``) and that a trusted signature covers every
    entry; return the number of entries.

    Raises:
        ChainBroken: the chain itself is broken; or, naming the first seq no valid trusted
            signature covers, the chain was rewritten or extended without a trusted key.
        InvalidInput: ``trusted`` names no key, or a malformed one.
    """
    keys = fingerprints(trusted)
    count = logs._verify(stream, writer)
    claims = _claims(logs, stream, writer, keys)
    covered = 0
    for e in logs._entries(stream, writer, 0):
        vouched = claims.get(e.seq)
        if vouched is None:
            continue
        if e.content_hash not in vouched:
            raise ChainBroken(
                stream,
                writer,
                covered + 1,
                f"the signed checkpoint at seq {e.seq} does not match the stored entry: the "
                f"chain was rewritten from seq {covered + 1} or later without a trusted key",
            )
        covered = e.seq
    if covered < count:
        raise ChainBroken(
            stream,
            writer,
            covered + 1,
            f"no trusted signature covers seq {covered + 1} to {count}: entries written "
            "without a trusted signing key, or rewritten",
        )
    return count


__all__ = [
    "CHECKPOINT_STREAM",
    "SignedAuditSink",
    "Signer",
    "SigningKey",
    "TrustList",
    "TrustedKey",
    "checkpoint_message",
    "checkpoint_of",
    "fingerprints",
    "record_checkpoint",
    "signed_stream",
    "verify_signed",
]
