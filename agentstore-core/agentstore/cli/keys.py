"""``agentstore keygen`` and ``agentstore rotate-key``: the keys credentials are encrypted
with. A key is printed only by ``keygen`` (or written to a file only its owner may read);
no other command prints, logs or echoes one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import click

from agentstore.capabilities import CredentialStore
from agentstore.cli.app import _opts, _where, cli, load_policy, opened
from agentstore.cli.errors import CliError
from agentstore.crypto import EncryptedCredentialStore, generate_key, key_id, rotate
from agentstore.crypto.keys import parse_key


@cli.command(short_help="Print a new encryption key (or write it to a file).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the key to this new file (mode 600) instead of printing it.",
)
def keygen(out: Path | None) -> None:
    """Make a key for [store.encryption]: 32 random bytes as URL-safe base64.

    Put it in an environment variable (key = { env = "NAME" }) or a file only its owner
    can read (key_file = "PATH"), never in the policy. The key's id is printed on stderr.
    """
    key = generate_key()
    kid = key_id(parse_key(key, "the new key")).hex()
    if out is None:
        click.echo(key)
        click.echo(f"key id {kid}", err=True)
        return
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError(f"{out} exists; keygen never overwrites a key file") from None
    except OSError as exc:
        raise CliError(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    click.echo(f"wrote key {kid} to {out}")


@cli.command("rotate-key", short_help="Re-encrypt every secret under the first key.")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def rotate_key(ctx: click.Context, path: Path | None) -> None:
    """Re-encrypt every stored secret under the first key of [store.encryption] keys.

    Secrets stored before encryption was configured are encrypted. Safe to interrupt and
    to run while the store is in use: every secret stays readable with the configured
    keys throughout, a secret written meanwhile is never overwritten, and running it again
    finishes the work. Afterwards the old key may be dropped from the policy.
    """
    opts = _opts(ctx)
    policy = load_policy(opts, path)
    if policy.encryption is None:
        raise CliError(f"{_where(policy)}: no [store.encryption] table: nothing to rotate to")
    # Existing storage only: a mistyped path or schema fails rather than become a new,
    # empty store with nothing to rotate.
    with opened(opts, policy, create=False) as store:
        sealed = cast(EncryptedCredentialStore, store.credentials)
        inner: CredentialStore = sealed.inner
        done = rotate(inner, sealed.keyring, inner.names())  # an error: exit 1, one line
        click.echo(
            f"rotated {done.rotated} secret(s) to key {sealed.keyring.primary}; "
            f"{done.current} already under it"
            + (f"; {done.vanished} deleted meanwhile" if done.vanished else "")
        )


__all__ = ["keygen", "rotate_key"]
