"""Credentials encrypted at rest: the one duty a driver has (an atomic compare-and-set of a
secret, :meth:`CredentialStore._swap_secret`), and what the store builds on it."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from typing import ClassVar, cast

import pytest

import agentstore
import agentstore.aio
from agentstore.capabilities import CapabilityName, CredentialStore
from agentstore.conformance.contracts.base import THREADS, ContractBase, run_threads
from agentstore.crypto import (
    DecryptionFailed,
    EncryptedCredentialStore,
    Keyring,
    generate_key,
    rotate,
)
from agentstore.crypto.envelope import is_envelope
from agentstore.crypto.keys import parse_key
from agentstore.crypto.signing import Signer
from agentstore.errors import ChainBroken
from agentstore.policy import StorePolicy
from agentstore.store import Store


class EncryptedCredentialContract(ContractBase):
    """Secrets reach the driver only sealed; rotation never overwrites a newer value."""

    capability: ClassVar[CapabilityName | None] = "credentials"

    SECRET: ClassVar[bytes] = b"plaintext-secret-7c1e-\x00\xff"

    def _env_keys(self, keys: list[str]) -> list[dict[str, str]]:
        refs = []
        for key in keys:
            name = f"AGENTSTORE_CONFORMANCE_KEY_{uuid.uuid4().hex[:12].upper()}"
            os.environ[name] = key
            refs.append({"env": name})
        return refs

    def _encrypted_policy(self, keys: list[str]) -> StorePolicy:
        return StorePolicy(
            self.policy.backend,
            capabilities={str(cap): driver for cap, driver in self.policy.capabilities.items()},
            sections=self.policy.sections,
            encryption={"keys": self._env_keys(keys)},
            source=self.policy.source,
        )

    def open_encrypted(self, *keys: str) -> Store:
        """A store on the policy under test with ``[store.encryption]`` naming ``keys``."""
        pytest.importorskip("cryptography", reason="encryption needs agentstore-core[crypto]")
        policy = self._encrypted_policy(list(keys))
        store = agentstore.open(policy, registry=self.registry, clock=self.clock)
        self._stores.append(store)
        return store

    @staticmethod
    def sealed(store: Store) -> EncryptedCredentialStore:
        return cast(EncryptedCredentialStore, store.credentials)

    def test_credential_swap_secret_is_a_compare_and_set(self) -> None:
        creds: CredentialStore = self.open_store().credentials
        creds.put_secret("k", b"one")
        assert creds._swap_secret("k", b"one", b"two") is True
        assert creds.get_secret("k") == b"two"
        assert creds._swap_secret("k", b"one", b"three") is False
        assert creds.get_secret("k") == b"two"
        assert creds._swap_secret("absent", b"one", b"x") is False
        with pytest.raises(agentstore.NotFound):
            creds.get_secret("absent")

    def test_credential_swap_secret_concurrent_swaps_let_exactly_one_win(self) -> None:
        creds: CredentialStore = self.open_store().credentials
        creds.put_secret("k", b"start")
        won = run_threads(THREADS, lambda i: creds._swap_secret("k", b"start", b"v%d" % i))
        assert won.count(True) == 1
        assert creds.get_secret("k") == b"v%d" % won.index(True)

    def test_credential_encrypted_values_reach_the_driver_only_sealed(self) -> None:
        store = self.open_encrypted(generate_key())
        store.credentials.put_secret("api-key", self.SECRET)
        stored = self.sealed(store).inner.get_secret("api-key")
        assert is_envelope(stored)
        assert self.SECRET not in stored
        assert store.credentials.get_secret("api-key") == self.SECRET
        assert "plaintext-secret" not in repr(store.credentials)

    def test_credential_encrypted_envelope_moved_to_another_name_is_refused(self) -> None:
        store = self.open_encrypted(generate_key())
        store.credentials.put_secret("a", self.SECRET)
        raw = self.sealed(store).inner
        raw.put_secret("b", raw.get_secret("a"))
        with pytest.raises(DecryptionFailed, match="'b'"):
            store.credentials.get_secret("b")

    def test_credential_encrypted_wrong_key_names_the_key_id(self) -> None:
        self.require_persistent()
        first = self.open_encrypted(generate_key())
        first.credentials.put_secret("api-key", self.SECRET)
        kid = first.keyring.primary if first.keyring else ""
        first.close()
        other = self.open_encrypted(generate_key())
        with pytest.raises(DecryptionFailed) as caught:
            other.credentials.get_secret("api-key")
        assert kid in caught.value.message
        assert self.SECRET.decode("latin-1") not in caught.value.message

    def test_credential_rotation_concurrent_puts_are_never_overwritten(self) -> None:
        old, new = generate_key(), generate_key()
        store = self.open_encrypted(new, old)
        sealed = self.sealed(store)
        under_old = Keyring([parse_key(old, "old")])
        names = [f"s{i}" for i in range(20)]
        for name in names:
            sealed.inner.put_secret(name, under_old.seal(name, b"old-" + name.encode()))
        stop = threading.Event()
        last: dict[str, bytes] = {}

        def writer() -> None:
            n = 0
            while not stop.is_set():
                name = names[n % len(names)]
                value = b"new-%d" % n
                store.credentials.put_secret(name, value)
                last[name] = value
                n += 1

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            done = rotate(sealed.inner, sealed.keyring, iter(names))
        finally:
            stop.set()
            thread.join(30)
        assert done.rotated + done.current == len(names)
        for name in names:
            assert store.credentials.get_secret(name) == last.get(name, b"old-" + name.encode())
            assert sealed.keyring.is_current(sealed.inner.get_secret(name))

    def test_credential_rotation_encrypts_plaintext_and_is_resumable(self) -> None:
        store = self.open_encrypted(generate_key())
        self.sealed(store).inner.put_secret("legacy", self.SECRET)
        with pytest.raises(DecryptionFailed, match="rotate-key"):
            store.credentials.get_secret("legacy")
        sealed = self.sealed(store)
        assert rotate(sealed.inner, sealed.keyring, iter(["legacy", "gone"])).rotated == 1
        again = rotate(sealed.inner, sealed.keyring, iter(["legacy", "gone"]))
        assert (again.rotated, again.current, again.vanished) == (0, 1, 1)
        assert store.credentials.get_secret("legacy") == self.SECRET

    def test_aio_credential_encrypted_values_reach_the_driver_only_sealed(self) -> None:
        store = self.open_encrypted(generate_key())
        policy = self._encrypted_policy([generate_key()])

        async def main() -> bytes:
            async with agentstore.aio.open(policy, registry=self.registry) as astore:
                await astore.credentials.put_secret("aio-key", self.SECRET)
                return await astore.credentials.get_secret("aio-key")

        assert asyncio.run(main()) == self.SECRET
        if self.support.persistent:
            stored = self.sealed(store).inner.get_secret("aio-key")
            assert is_envelope(stored)
            assert self.SECRET not in stored


class SignedCheckpointContract(ContractBase):
    """Signed checkpoints ride on the driver's log store (the reserved checkpoint stream):
    whatever the driver, a signed chain verifies with its key and nothing else does."""

    capability: ClassVar[CapabilityName | None] = "logs"

    def _keys(self) -> tuple[bytes, bytes]:
        pytest.importorskip("cryptography", reason="signing needs agentstore-core[crypto]")
        return os.urandom(32), os.urandom(32)

    def test_log_signed_chain_verifies_only_with_its_key(self) -> None:
        key, other = self._keys()
        store = self.open_store()
        log = store.log("conv", "w", signing_key=key)
        log.append(b"one")
        log.append_many([b"two", b"three"])
        mine, theirs = Signer(key).fingerprint, Signer(other).fingerprint
        assert store.log("conv", "w").verify(trusted=[mine]) == 3
        with pytest.raises(ChainBroken) as caught:
            store.log("conv", "w").verify(trusted=[theirs])
        assert caught.value.seq == 1

    def test_log_signed_unsigned_appends_are_named(self) -> None:
        key, _ = self._keys()
        store = self.open_store()
        store.log("conv", "w", signing_key=key).append_many([b"1", b"2"])
        store.log("conv", "w").append(b"3")
        with pytest.raises(ChainBroken) as caught:
            store.log("conv", "w").verify(trusted=[Signer(key).fingerprint])
        assert caught.value.seq == 3

    def test_log_signed_concurrent_appends_are_all_covered(self) -> None:
        key, _ = self._keys()
        store = self.open_store()
        log = store.log("conv", "w", signing_key=key)
        run_threads(THREADS, lambda i: [log.append(b"%d-%d" % (i, n)) for n in range(5)])
        assert log.verify(trusted=[Signer(key).fingerprint]) == THREADS * 5


__all__ = ["EncryptedCredentialContract", "SignedCheckpointContract"]
