"""The envelope and the keyring: round trips, and every edit, swap or wrong key caught."""

from __future__ import annotations

import pytest
from agentstore.crypto import DecryptionFailed, Keyring, generate_key, key_id
from agentstore.crypto.envelope import MAGIC, OVERHEAD
from agentstore.crypto.keys import parse_key
from agentstore.errors import ConfigError, InvalidPolicy
from hypothesis import given, settings
from hypothesis import strategies as st

KEY_A = parse_key(generate_key(), "a")
KEY_B = parse_key(generate_key(), "b")
RING = Keyring([KEY_A])
NAMES = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(name=NAMES, secret=st.binary(max_size=2048))
def test_a_sealed_secret_opens_to_itself_and_never_shows_its_plaintext(
    name: str, secret: bytes
) -> None:
    sealed = RING.seal(name, secret)
    assert RING.unseal(name, sealed) == secret
    assert len(sealed) == len(secret) + OVERHEAD
    assert sealed.startswith(MAGIC)
    if len(secret) >= 8:
        assert secret not in sealed


@settings(max_examples=200, deadline=None)
@given(
    name=NAMES,
    secret=st.binary(max_size=256),
    where=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_flipped_byte_fails_authentication(
    name: str, secret: bytes, where: int, flip: int
) -> None:
    sealed = bytearray(RING.seal(name, secret))
    sealed[where % len(sealed)] ^= flip
    with pytest.raises(DecryptionFailed) as caught:
        RING.unseal(name, bytes(sealed))
    if len(secret) >= 8:
        assert secret.hex() not in caught.value.message


@settings(max_examples=100, deadline=None)
@given(name=NAMES, other=NAMES, secret=st.binary(max_size=256))
def test_an_envelope_moved_to_another_name_fails(name: str, other: str, secret: bytes) -> None:
    if name == other:
        return
    with pytest.raises(DecryptionFailed, match="moved from another"):
        RING.unseal(other, RING.seal(name, secret))


@settings(max_examples=100, deadline=None)
@given(name=NAMES, secret=st.binary(max_size=256), cut=st.integers(min_value=1))
def test_a_truncated_envelope_fails(name: str, secret: bytes, cut: int) -> None:
    sealed = RING.seal(name, secret)
    with pytest.raises(DecryptionFailed):
        RING.unseal(name, sealed[: len(sealed) - 1 - cut % len(sealed)])


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert RING.seal("n", b"same") != RING.seal("n", b"same")


def test_an_envelope_under_an_unknown_key_names_that_key_id() -> None:
    sealed = Keyring([KEY_B]).seal("api", b"v")
    with pytest.raises(DecryptionFailed) as caught:
        RING.unseal("api", sealed)
    assert key_id(KEY_B).hex() in caught.value.message
    assert key_id(KEY_A).hex() in caught.value.message


def test_a_plaintext_value_is_refused_not_returned() -> None:
    with pytest.raises(DecryptionFailed, match="rotate-key"):
        RING.unseal("api", b"plain secret value stored before encryption")


def test_a_rotation_keyring_reads_both_keys_and_writes_with_the_first() -> None:
    old = Keyring([KEY_B]).seal("api", b"old")
    both = Keyring([KEY_A, KEY_B])
    assert both.unseal("api", old) == b"old"
    assert not both.is_current(old)
    assert both.is_current(both.seal("api", b"new"))
    assert both.primary == key_id(KEY_A).hex()


def test_a_keyring_shows_key_ids_only() -> None:
    shown = repr(RING) + str(RING)
    assert key_id(KEY_A).hex() in shown
    assert KEY_A.hex() not in shown
    assert generate_key() not in shown


def test_keys_must_be_32_bytes_and_distinct() -> None:
    with pytest.raises(ConfigError):
        Keyring([])
    with pytest.raises(ConfigError):
        Keyring([b"short"])
    with pytest.raises(ConfigError, match="twice"):
        Keyring([KEY_A, KEY_A])


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60))
def test_a_bad_key_text_is_refused_without_echoing_it(text: str) -> None:
    try:
        raw = parse_key(text, "$K")
    except InvalidPolicy as exc:
        assert "$K" in exc.message
        if len(text.strip()) > 3:
            assert text.strip() not in exc.message
    else:
        assert len(raw) == 32


def test_keygen_keys_parse_with_and_without_padding() -> None:
    text = generate_key()
    assert len(parse_key(text, "k")) == 32
    assert parse_key(text.rstrip("="), "k") == parse_key(text, "k")
