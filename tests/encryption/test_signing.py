"""Signed checkpoints: verify(trusted=...) proves who wrote a chain; a rewrite by someone
without the key, with a new recorded head, fails naming the first uncovered seq."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import agentstore
import pytest
from agentstore import ChainBroken, Fingerprint, InvalidInput
from agentstore.chain import chain_hash
from agentstore.crypto.signing import CHECKPOINT_STREAM, Signer
from agentstore_sqlite.schema import HEAD_SEQ
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from encrypted import sqlite_policy
from hypothesis import given, settings
from hypothesis import strategies as st

KEY = os.urandom(32)
OTHER = os.urandom(32)


def _store(tmp_path: Path) -> agentstore.Store:
    return agentstore.open(sqlite_policy(tmp_path / "s.db", None))


def _rewrite_from(db: Path, stream: str, writer: str, seq: int, payload: bytes) -> None:
    """What an attacker with write access but no key does: rewrite the entries from
    ``seq`` on and the recorded head, consistently, so the plain chain verifies."""
    con = sqlite3.connect(db)
    with con:
        rows = con.execute(
            "SELECT seq, payload, prev_hash FROM agentstore_log WHERE stream=? AND writer=? "
            "ORDER BY seq",
            (stream, writer),
        ).fetchall()
        prev = None
        for s, p, ph in rows:
            if s < seq:
                prev = chain_hash(ph, p)
                continue
            new_payload = payload if s == seq else p
            digest = chain_hash(prev, new_payload)
            con.execute(
                "UPDATE agentstore_log_rows SET payload=?, prev_hash=?, content_hash=? "
                "WHERE stream=? AND writer=? AND seq=?",
                (new_payload, prev, digest, stream, writer, s),
            )
            prev = digest
        con.execute(
            "UPDATE agentstore_log_rows SET content_hash=? WHERE stream=? AND writer=? AND seq=?",
            (prev, stream, writer, HEAD_SEQ),
        )
    con.close()


def test_a_signed_chain_verifies_with_its_key_by_fingerprint_or_public_key(
    tmp_path: Path,
) -> None:
    signer = Signer(KEY)
    with _store(tmp_path) as store:
        log = store.log("conv", "agent-a", signing_key=KEY)
        log.append(b"one")
        log.append_many([b"two", b"three"])
        assert log.verify() == 3
        assert log.verify(trusted=[signer.fingerprint]) == 3
        assert log.verify(trusted=[signer.public_key]) == 3
        assert log.verify(trusted=[signer.fingerprint.hex()]) == 3
        assert store.log("conv", "agent-a").verify(trusted=[signer.fingerprint]) == 3
        assert ("agentstore:checkpoints", "agent-a") in store.logs()


def test_an_untrusted_key_or_no_signature_covers_nothing(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.log("conv", "a", signing_key=OTHER).append(b"x")
        with pytest.raises(ChainBroken) as caught:
            store.log("conv", "a").verify(trusted=[Signer(KEY).fingerprint])
        assert caught.value.seq == 1
        store.log("plain", "b").append(b"y")
        with pytest.raises(ChainBroken, match="no trusted signature"):
            store.log("plain", "b").verify(trusted=[Signer(KEY).fingerprint])


def test_entries_appended_without_the_key_after_signed_ones_are_named(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.log("conv", "a", signing_key=KEY).append_many([b"1", b"2"])
        store.log("conv", "a").append(b"unsigned")
        with pytest.raises(ChainBroken) as caught:
            store.log("conv", "a").verify(trusted=[Signer(KEY).fingerprint])
        assert caught.value.seq == 3


@pytest.mark.parametrize("rewrite_from", [1, 4, 7, 10])
def test_a_rewrite_with_a_new_head_fails_at_the_first_uncovered_seq(
    tmp_path: Path, rewrite_from: int
) -> None:
    db = tmp_path / "s.db"
    with _store(tmp_path) as store:
        log = store.log("conv", "a", signing_key=KEY)
        for i in range(1, 11):
            log.append(b"turn %d" % i)
    _rewrite_from(db, "conv", "a", rewrite_from, b"forged")
    with _store(tmp_path) as store:
        log = store.log("conv", "a")
        assert log.verify() == 10  # the plain chain and head are consistent: not caught
        with pytest.raises(ChainBroken) as caught:
            log.verify(trusted=[Signer(KEY).fingerprint])
        assert caught.value.seq == rewrite_from
        assert "without a trusted key" in caught.value.detail


def test_a_forged_checkpoint_by_another_key_claiming_the_fingerprint_is_ignored(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    with _store(tmp_path) as store:
        log = store.log("conv", "a", signing_key=KEY)
        for payload in (b"1", b"2", b"3"):
            log.append(payload)
    _rewrite_from(db, "conv", "a", 2, b"forged")
    with _store(tmp_path) as store:
        head = store.log("conv", "a").head()
        assert head is not None
        # The attacker signs the forged head with their own key and a copied public key.
        forged = (
            Signer(OTHER)
            .checkpoint(head)
            .replace(Signer(OTHER).public_key.hex().encode(), Signer(KEY).public_key.hex().encode())
        )
        logs = store.capability("logs")
        logs._append(CHECKPOINT_STREAM, "a", forged)  # type: ignore[attr-defined]
        with pytest.raises(ChainBroken) as caught:
            store.log("conv", "a").verify(trusted=[Signer(KEY).fingerprint])
        assert caught.value.seq == 2


def test_a_checkpoint_for_another_stream_covers_nothing_here(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.log("s1", "a", signing_key=KEY).append(b"same")
        store.log("s2", "a").append(b"same")  # same payload, same hash, other stream
        with pytest.raises(ChainBroken):
            store.log("s2", "a").verify(trusted=[Signer(KEY).fingerprint])


def test_sign_head_covers_entries_a_crash_left_unsigned(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.log("conv", "a").append_many([b"1", b"2"])
        log = store.log("conv", "a", signing_key=KEY)
        with pytest.raises(ChainBroken):
            log.verify(trusted=[Signer(KEY).fingerprint])
        assert log.sign_head() is not None
        assert log.verify(trusted=[Signer(KEY).fingerprint]) == 2
        with pytest.raises(InvalidInput, match="signing_key"):
            store.log("conv", "a").sign_head()


def test_a_cryptography_private_key_object_is_accepted_and_never_shown(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    signer = Signer(key)
    assert signer.fingerprint.hex() in repr(signer)
    with _store(tmp_path) as store:
        store.log("conv", "a", signing_key=key).append(b"x")
        assert store.log("conv", "a").verify(trusted=[key.public_key()]) == 1
    with pytest.raises(InvalidInput):
        Signer(b"short")
    with pytest.raises(InvalidInput):
        Signer("not a key")  # type: ignore[arg-type]


def test_trusted_must_name_a_key(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.log("conv", "a", signing_key=KEY).append(b"x")
        with pytest.raises(InvalidInput, match="no key"):
            store.log("conv", "a").verify(trusted=[])
        with pytest.raises(InvalidInput):
            store.log("conv", "a").verify(trusted=["zz"])


def test_the_fingerprint_is_blake3_of_the_public_key() -> None:
    signer = Signer(KEY)
    assert signer.fingerprint == Fingerprint.of_public_key(signer.public_key)


@settings(max_examples=40, deadline=None)
@given(stream=st.text(min_size=1, max_size=8), writer=st.text(min_size=1, max_size=8))
def test_checkpoint_messages_are_unambiguous(stream: str, writer: str) -> None:
    from agentstore.crypto.signing import checkpoint_message

    h = b"\x01" * 32
    a = checkpoint_message(stream, writer, 1, h)
    b = checkpoint_message(stream + writer, "", 1, h)
    assert a != b or writer == ""


def test_the_audit_chain_can_be_signed_the_same_way(tmp_path: Path) -> None:
    from agentstore import AgentId, AuditEntry

    with _store(tmp_path) as store:
        audit = store.signed_audit(KEY)
        for i in range(3):
            audit.emit(AuditEntry(agent_id=AgentId.new(), action=f"act-{i}"))
        assert store.audit.verify() == 3
        assert store.audit.verify(trusted=[Signer(KEY).fingerprint]) == 3
        store.audit.emit(AuditEntry(agent_id=AgentId.new(), action="unsigned"))
        with pytest.raises(ChainBroken) as caught:
            store.audit.verify(trusted=[Signer(KEY).fingerprint])
        assert caught.value.seq == 4


def _run_cli(*args: str) -> tuple[int, str]:
    from agentstore.cli import cli
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_cli_verify_trust_proves_authorship_per_writer(tmp_path: Path) -> None:
    policy = tmp_path / "agentstore.toml"
    policy.write_text('[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "s.db"\n')
    with agentstore.open(policy) as store:
        a = store.log("conv", "agent-a", signing_key=KEY)
        b = store.log("conv", "agent-b", signing_key=OTHER)
        for i in range(5):
            a.append(b"a%d" % i)
            b.append(b"b%d" % i)
    code, out = _run_cli("--config", str(policy), "verify")
    assert code == 0, out
    assert "ok: 4 chains hold" in out  # two logs and their two checkpoint logs
    trust = tmp_path / "trust.txt"
    trust.write_text(
        f"# who signs what\n{Signer(KEY).fingerprint.hex()} agent-a\n"
        f"ed25519:{Signer(OTHER).public_key.hex()} agent-b  # b's public key\n"
    )
    code, out = _run_cli("--config", str(policy), "verify", "--trust", str(trust))
    assert code == 0, out
    _rewrite_from(tmp_path / "s.db", "conv", "agent-a", 3, b"forged")
    code, out = _run_cli("--config", str(policy), "verify", "--trust", str(trust))
    assert code == 1
    assert "broken: stream 'conv', writer 'agent-a', seq 3" in out
    assert "agent-b" not in out.split("broken")[1].split("\n")[0]
    code, out = _run_cli("--config", str(policy), "verify")
    assert code == 0, out  # without signatures the consistent rewrite is not caught
    only_a = tmp_path / "only-a.txt"
    only_a.write_text(f"{Signer(KEY).fingerprint.hex()} agent-a\n")
    code, out = _run_cli(
        "--config", str(policy), "verify", "--trust", str(only_a), "--writer", "agent-b"
    )
    assert code == 1
    assert "lists no key for writer 'agent-b'" in out


def test_cli_a_bad_trust_file_line_is_named(tmp_path: Path) -> None:
    policy = tmp_path / "agentstore.toml"
    policy.write_text('[store]\nbackend = "sqlite"\n[store.sqlite]\npath = "s.db"\n')
    with agentstore.open(policy) as store:
        store.log("conv", "a").append(b"x")
    trust = tmp_path / "trust.txt"
    trust.write_text("# fine\n\nnot-a-key agent-a\n")
    code, out = _run_cli("--config", str(policy), "verify", "--trust", str(trust))
    assert code == 2
    assert "line 3" in out


def test_the_async_face_signs_and_verifies_off_the_loop(tmp_path: Path) -> None:
    import asyncio

    import agentstore.aio

    async def main() -> int:
        async with agentstore.aio.open(sqlite_policy(tmp_path / "s.db", None)) as store:
            log = store.log("conv", "a", signing_key=KEY)
            await log.append(b"1")
            await log.append_many([b"2", b"3"])
            assert await log.verify() == 3
            await store.log("conv", "a").append(b"unsigned")
            with pytest.raises(ChainBroken) as caught:
                await log.verify(trusted=[Signer(KEY).fingerprint])
            assert caught.value.seq == 4
            await log.append(b"5")  # signing the new head covers the unsigned entry
            return await store.log("conv", "a").verify(trusted=[Signer(KEY).fingerprint])

    assert asyncio.run(main()) == 5
