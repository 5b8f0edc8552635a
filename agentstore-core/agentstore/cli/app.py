"""The ``agentstore`` command: drivers, init, validate, verify, list, demo.

Exit codes: 0 success; 1 a failed check (a broken chain) or an operation that failed (a
backend that cannot be reached); 2 a usage or policy error. Errors are one line on stderr;
``--debug`` adds the traceback. Nothing printed ever holds a secret: policy values are
never echoed, and messages come from errors that promise to carry none.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from agentstore._policy_wording import POLICY_EXPECTED, database_hint
from agentstore.capabilities import CAPABILITIES
from agentstore.cli.errors import (
    _ARGV,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    JSON_OPEN,
    CliError,
    CliFailure,
    CliInterrupted,
    _redact,
    _to_cli_error,
    _usage_error,
)
from agentstore.cli.manage import add_list_group, no_store_here
from agentstore.cli.verify import (
    PROGRESS_THRESHOLD,
    ChainResult,
    read_trust,
    stopped_by_signals,
    verify_store,
)
from agentstore.errors import ConfigError, UnknownDriver
from agentstore.policy import (
    CONFIG_FILENAME,
    DEFAULT_BACKEND,
    StorePolicy,
    find_policy,
)
from agentstore.registry import FIRST_PARTY, Registry, default_registry
from agentstore.store import Store
from agentstore.store import open as open_store


@dataclass
class Options:
    """The global options, shared with every command through ``ctx.obj``."""

    config: Path | None = None
    debug: bool = False
    registry: Registry = field(default_factory=default_registry)


class _Command(click.Command):
    """A command whose errors, under ``--json``, are printed as JSON on stdout."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt:
                # Ctrl-C outside a command's own handling: click would say "Aborted!", exit 1.
                raise CliInterrupted() from None
        except (click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except Exception as exc:
            if not ctx.params.get("as_json"):
                raise
            opts = ctx.find_object(Options)
            if opts is not None and opts.debug:
                traceback.print_exc()
            err = exc if isinstance(exc, click.ClickException) else _to_cli_error(exc)
            doc = {"ok": False, "error": err.format_message()}
            if ctx.meta.pop(JSON_OPEN, False):  # end the half-printed listing's document
                click.echo("], " + json.dumps(doc)[1:])
            else:
                click.echo(json.dumps(doc, indent=2))
            ctx.exit(err.exit_code)


class _Context(click.Context):
    """A context whose closing (the resources a command opened) turns Ctrl-C into exit 130."""

    def close(self) -> None:
        try:
            super().close()
        except KeyboardInterrupt:
            raise CliInterrupted() from None


class _Group(click.Group):
    """Turns any exception a command raises into one line and an exit code.

    Ctrl-C (KeyboardInterrupt) while click parses, invokes or closes is
    :class:`CliInterrupted` (``Error: interrupted``, exit 130), never click's "Aborted!"
    and exit 1. A usage error is one line too (JSON under ``--json``).
    """

    command_class = _Command
    context_class = _Context

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:
            raise CliInterrupted() from None
        except click.UsageError as exc:
            raise _usage_error(exc, argv) from None
        ctx.meta[_ARGV] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise CliInterrupted() from None
        except click.UsageError as exc:
            raise _usage_error(exc, ctx.meta.get(_ARGV, ())) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click reports these itself (a closed pipe quietly, as `| head` expects)
        except Exception as exc:
            opts = ctx.obj if isinstance(ctx.obj, Options) else None
            if opts is not None and opts.debug:
                traceback.print_exc()
            raise _to_cli_error(exc) from exc


def _opts(ctx: click.Context) -> Options:
    return ctx.ensure_object(Options)


def _with_file(message: str, source: str | None) -> str:
    if source is None or source in message:
        return message
    return f"{source}: {message}"


def load_policy(opts: Options, path: Path | None = None) -> StorePolicy:
    """The policy named by ``path``, else ``--config``, else found as ``agentstore.open()``."""
    explicit = path or opts.config
    try:
        return find_policy(explicit)
    except ConfigError as exc:
        # A database URL given for a policy is not echoed: it may carry a password.
        url = explicit is not None and database_hint(explicit, POLICY_EXPECTED) == exc.message
        where = None if explicit is None or url else str(explicit)
        raise CliError(_with_file(exc.message, where)) from None


def _where(policy: StorePolicy) -> str:
    if policy.source is not None:
        return policy.source
    return f"the default policy (no ./{CONFIG_FILENAME}, $AGENTSTORE_CONFIG unset)"


@contextmanager
def opened(
    opts: Options, policy: StorePolicy, *, create: bool = True, read_only: bool = False
) -> Iterator[Store]:
    """The store ``policy`` describes, with errors naming the policy file."""
    try:
        store = open_store(policy, registry=opts.registry, create=create, read_only=read_only)
    except ConfigError as exc:
        raise CliError(_with_file(exc.message, _where(policy))) from exc
    with store:
        yield store


# -- the group ------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The policy file. Default: $AGENTSTORE_CONFIG, else ./agentstore.toml, "
    "else the built-in default (SQLite file ./agentstore.db).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.version_option(package_name="agentstore-core", prog_name="agentstore")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, debug: bool) -> None:
    """agentstore: causal-ordered, pluggable storage for agent systems.

    Exit codes: 0 success, 1 a failed check (a broken chain) or an unreachable backend,
    2 a usage or policy error.
    """
    opts = _opts(ctx)
    opts.config = config
    opts.debug = debug


# -- drivers --------------------------------------------------------------------------------


def _caps_text(caps: frozenset[str]) -> str:
    if set(caps) == set(CAPABILITIES):
        return "all"
    return ", ".join(c for c in CAPABILITIES if c in caps) or "none"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


@cli.command(short_help="List the installed drivers: distribution, version, capabilities.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def drivers(ctx: click.Context, as_json: bool) -> None:
    """List the installed drivers: distribution, version, what each declares, capabilities.

    CROSS-PROCESS: separate processes may share the driver's storage. TAMPER-EVIDENT:
    ``verify`` catches a truncated log too (a driver that cannot declares it). Plugins
    that are installed but fail to load are listed too, with their error.
    """
    reg = _opts(ctx).registry
    specs = sorted(reg.drivers.values(), key=lambda s: s.name)
    broken = reg.broken
    if as_json:
        doc = {
            "drivers": [
                {
                    "name": s.name,
                    "distribution": s.distribution,
                    "version": s.version,
                    "capabilities": [c for c in CAPABILITIES if c in s.capabilities],
                    "cross_process": s.cross_process,
                    "tamper_evident": s.tamper_evident,
                    "description": s.description,
                    "first_party": s.distribution is not None
                    and FIRST_PARTY.get(s.name) == s.distribution,
                }
                for s in specs
            ],
            "broken": [
                {"name": b.name, "distribution": b.distribution, "error": b.error} for b in broken
            ],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if specs:
        rows = [
            ("NAME", "DISTRIBUTION", "VERSION", "CROSS-PROCESS", "TAMPER-EVIDENT", "CAPABILITIES")
        ]
        rows += [
            (
                s.name,
                s.distribution or "(in-process)",
                s.version or "-",
                _yes(s.cross_process),
                _yes(s.tamper_evident),
                _caps_text(s.capabilities),
            )
            for s in specs
        ]
        click.echo(_table(rows))
    else:
        click.echo(
            "no drivers installed; install one, e.g. `pip install agentstore-sqlite` "
            "(the embedded default)"
        )
    if broken:
        click.echo("")
        click.echo("installed but failed to load:")
        for b in broken:
            click.echo(f"  {b.name} ({b.distribution or 'unknown distribution'}): {b.error}")


# -- init -----------------------------------------------------------------------------------


@cli.command(short_help="Write a commented starter policy.")
@click.option(
    "--backend",
    default=DEFAULT_BACKEND,
    show_default=True,
    help="The driver serving every capability.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, backend: str, force: bool, path: Path | None) -> None:
    """Write a commented starter policy to PATH (default: --config, else ./agentstore.toml)."""
    from agentstore.cli.starter import missing_capabilities, starter_policy

    opts = _opts(ctx)
    target = path or opts.config or Path(CONFIG_FILENAME)
    spec = opts.registry.drivers.get(backend)
    note = None
    if spec is None:
        if backend not in FIRST_PARTY:
            try:
                opts.registry.get(backend)
            except UnknownDriver as exc:
                raise CliError(f"--backend: {exc.message}") from None
        note = (
            f"note: driver {backend!r} is not installed yet; "
            f"run `pip install {FIRST_PARTY[backend]}` before using this policy"
        )
    missing = missing_capabilities(spec)
    if missing:
        note = (
            f"note: driver {backend!r} does not provide {', '.join(missing)}; route them to "
            f"another driver under [store.capabilities] in {target} before using it"
        )
    text = starter_policy(backend, spec)
    if not target.parent.is_dir():
        raise CliError(f"cannot write {target}: folder {target.parent} does not exist")
    try:
        with target.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        raise CliError(f"{target} already exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise CliFailure(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"wrote {target} (backend {backend}); check it with `agentstore validate {target}`")
    if note:
        click.echo(note, err=True)


# -- verify ---------------------------------------------------------------------------------


@cli.command(short_help="Verify every hash chain; exit 1 naming each broken one.")
@click.option("--stream", help="Verify only the chains of this stream.")
@click.option("--writer", help="Verify only the chains of this writer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("-v", "--verbose", is_flag=True, help="List every chain, not only broken ones.")
@click.option(
    "--trust",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Also prove authorship: a file of trusted signing keys (fingerprints), "
    "optionally per writer.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Draw a progress bar on stderr (default: on a terminal, for long work).",
)
@click.pass_context
def verify(
    ctx: click.Context,
    *,
    stream: str | None,
    writer: str | None,
    as_json: bool,
    verbose: bool,
    trust: Path | None,
    progress: bool | None,
) -> None:
    """Verify every hash chain of the store (or those of --stream / --writer).

    Exit 0 when all hold; exit 1 naming each broken (stream, writer, seq). With --trust
    FILE, every chain must also be covered by a signed checkpoint of a key the file
    trusts for its writer (lines: a fingerprint, or ed25519:<public key hex>, then the
    writers it may sign for, none meaning any).
    """
    opts = _opts(ctx)
    trusted = None if trust is None else read_trust(trust)
    policy = load_policy(opts)
    no_store_here(policy)
    # Read only: a mistyped path fails rather than verify a new empty database, a file
    # the user may only read is verified, and nothing is ever written.
    with stopped_by_signals(), opened(opts, policy, read_only=True) as store:
        results = verify_store(store, stream, writer, progress=progress, trust=trusted)
    broken = [r for r in results if r.broken is not None]
    if not results and (stream is not None or writer is not None):
        named = " ".join(
            f"--{k} {v!r}" for k, v in (("stream", stream), ("writer", writer)) if v is not None
        )
        raise CliError(f"no chain matches {named} in {_where(policy)}")
    if as_json:
        doc = {"ok": not broken, "chains": [r.to_json() for r in results]}
        click.echo(json.dumps(doc, indent=2))
    else:
        for r in results:
            if r.broken is not None:
                click.echo(
                    f"broken: stream {r.stream!r}, writer {r.writer!r}, seq {r.broken.seq}: "
                    f"{r.broken.detail}"
                )
            elif verbose:
                erased = f", {r.redacted} redacted" if r.redacted else ""
                click.echo(
                    f"ok: stream {r.stream!r}, writer {r.writer!r}: "
                    f"{_n(r.entries, 'entry')}{erased}"
                )
        entries = sum(r.entries or 0 for r in results)
        redacted = sum(r.redacted for r in results)
        if broken:
            click.echo(f"{len(broken)} of {_n(len(results), 'chain')} broken")
        elif results:
            held = "chain holds" if len(results) == 1 else "chains hold"
            erased = f", {redacted} redacted" if redacted else ""
            click.echo(f"ok: {len(results)} {held} ({_n(entries, 'entry')}{erased})")
        else:
            click.echo("ok: no chains to verify (the store holds no log entries)")
    if broken:
        ctx.exit(EXIT_FAILED)


def _n(count: int | None, noun: str) -> str:
    """``1 entry``, ``2 entries``, ``1 chain``, ``0 chains``."""
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{count} {noun if count == 1 else plural}"


# -- list -----------------------------------------------------------------------------------

add_list_group(cli, _Command)


# -- demo -----------------------------------------------------------------------------------


@cli.command(short_help="The main job on the embedded default, then a flipped byte caught.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the demo's database and policy (created if missing). "
    "Default: a new temporary folder, left in place for you to inspect.",
)
@click.pass_context
def demo(ctx: click.Context, directory: Path | None) -> None:
    """Run the main job on the embedded default and show tampering being caught.

    Two agents write turns to one stream, a generation stamps reports, the doorbell
    prints each commit, every chain is verified, then one stored byte is flipped and
    verify shows exactly where.
    """
    from agentstore.cli.demo import run_demo

    opts = _opts(ctx)
    if not run_demo(directory, registry=opts.registry, echo=click.echo):
        ctx.exit(EXIT_FAILED)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The command line (``python -m agentstore.cli``; the console script runs it through
    the ``_agentstore_cli`` shim, which also catches a Ctrl-C during the imports).

    A KeyboardInterrupt that reaches here ends it with ``Error: interrupted``, exit 130.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="agentstore")
    except KeyboardInterrupt:
        stopped = CliInterrupted()
        stopped.show()
        raise SystemExit(stopped.exit_code) from None
    raise SystemExit(EXIT_OK)  # pragma: no cover - click's main always exits


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROGRESS_THRESHOLD",
    "ChainResult",
    "CliError",
    "CliFailure",
    "_redact",
    "_to_cli_error",
    "cli",
    "load_policy",
    "main",
    "verify_store",
]
