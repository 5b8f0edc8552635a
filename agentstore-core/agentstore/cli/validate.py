"""``agentstore validate``: does a policy resolve against the installed drivers?"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click

from agentstore.capabilities import CAPABILITIES
from agentstore.cli.app import _opts, _where, _with_file, cli, load_policy
from agentstore.cli.errors import CliError
from agentstore.errors import ConfigError
from agentstore.policy import ResolvedPolicy, StorePolicy
from agentstore.registry import Registry


@cli.command(short_help="Check a policy against the installed drivers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def validate(ctx: click.Context, path: Path | None, as_json: bool) -> None:
    """Check that a policy resolves against the installed drivers.

    PATH defaults to --config, else the policy agentstore.open() would find. Environment
    references are read (an unset variable is an error). No backend is contacted. A file
    in aa-storage's format (a [storage] table) is read as the equivalent [store] policy,
    which is printed. A section whose driver is not installed is named as unused.
    """
    opts = _opts(ctx)
    policy = load_policy(opts, path)
    try:
        resolved, deprecated = _resolve(policy, opts.registry)
    except ConfigError as exc:
        raise CliError(_with_file(exc.message, _where(policy))) from None
    if as_json:
        found = _validate_json(policy, resolved, opts.registry)
        found["warnings"] += deprecated
        click.echo(json.dumps(found, indent=2))
        return
    aa_storage = policy.table == "storage"
    click.echo(f"ok: {_where(policy)}" + (" (read as aa-storage's format)" if aa_storage else ""))
    for name, (spec, _config) in resolved.drivers.items():
        caps = [c for c in CAPABILITIES if resolved.routes[c] == name]
        origin = f"{spec.distribution} {spec.version}" if spec.distribution else "in-process"
        click.echo(f"  {name} ({origin}): {', '.join(caps)}")
    if resolved.notice:
        click.echo(resolved.notice)
    if aa_storage:
        click.echo("the equivalent [store] policy:")
        click.echo(policy.dumps(), nl=False)
    if resolved.keyring is not None:
        click.echo(f"credentials encrypted at rest: key ids {', '.join(resolved.keyring.key_ids)}")
    for line in resolved.warnings + ([resolved.unencrypted] if resolved.unencrypted else []):
        click.echo(f"warning: {line}", err=True)
    for line in deprecated:
        click.echo(f"warning: {line}", err=True)


def _resolve(policy: StorePolicy, reg: Registry) -> tuple[ResolvedPolicy, list[str]]:
    """The resolved policy, and the DeprecationWarnings its drivers' models gave (an old
    key still read): validate shows them, where Python's default filter would hide them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        resolved = policy.resolve(reg)
    deprecated: list[str] = []
    for w in caught:
        if issubclass(w.category, DeprecationWarning):
            deprecated.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return resolved, list(dict.fromkeys(deprecated))


def _validate_json(policy: StorePolicy, resolved: ResolvedPolicy, reg: Registry) -> dict[str, Any]:
    installed = reg.drivers
    return {
        "ok": True,
        "source": policy.source,
        "format": {"store": "store", "storage": "aa-storage"}.get(policy.table or "", "default"),
        "routes": dict(resolved.routes),
        "drivers": {
            name: {
                "distribution": spec.distribution,
                "version": spec.version,
                "capabilities": [c for c in CAPABILITIES if resolved.routes[c] == name],
            }
            for name, (spec, _config) in resolved.drivers.items()
        },
        "sections": {
            name: {
                "driver": name,
                "installed": name in installed,
                "in_use": name in resolved.drivers,
            }
            for name in policy.sections
        },
        "notice": resolved.notice,
        "warnings": resolved.warnings + ([resolved.unencrypted] if resolved.unencrypted else []),
        "encryption": None
        if resolved.keyring is None
        else {"key_ids": resolved.keyring.key_ids, "encrypting": resolved.keyring.primary},
        "policy": policy.dumps(),
    }


__all__ = ["validate"]
