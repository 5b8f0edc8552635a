"""The command line's errors: exit codes and one-line messages.

Every message that leaves the CLI passes through here, and unexpected ones through
:func:`agentstore.redact.redact`, so none carries a password.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from agentstore.errors import ConfigError, InvalidInput, StoreError, StoreNotFound
from agentstore.redact import redact

JSON_OPEN = "agentstore.json_open"
"""``ctx.meta`` key, true while a streamed JSON listing is half printed: an error then ends
that document (``], "ok": false, "error": ...}``) rather than print a second one."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(click.ClickException):
    """A usage or policy error: one line, exit code 2."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class CliFailure(CliError):
    """An operation that failed (a backend, a file): one line, exit code 1."""

    exit_code = EXIT_FAILED


class CliInterrupted(CliError):
    """Ctrl-C (SIGINT) stopped a command: one line, exit code 130, never 1 (a failed check)."""

    exit_code = 130  # 128 + SIGINT, as a shell reports a process Ctrl-C ended

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message)


_ARGV = "agentstore.argv"  # ctx.meta key: the command line as given, for usage errors


def _usage_error(exc: click.UsageError, argv: Sequence[str]) -> Exception:
    """A usage error click found (a bad option or value, an unknown command) shown as every
    other error is: one line (no usage lines), exit 2, JSON on stdout under ``--json``,
    any password masked (click quotes the argument it refused: a database URL given where
    a command takes none, say)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return exc
    message = redact(exc.format_message())
    if "--json" in argv:  # only the commands' own option is spelled so
        click.echo(json.dumps({"ok": False, "error": message}, indent=2))
        return click.exceptions.Exit(EXIT_USAGE)
    # Without a context click shows no usage lines nor hint; the same exit code (2).
    return click.UsageError(message)


_redact = redact  # the name the CLI and its tests knew it by


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is a KeyboardInterrupt or was raised because of one (its cause or
    context): a lazy import inside a command can wrap one (Python 3.11 wraps one raised in
    a class body's ``__set_name__`` in a RuntimeError).

    It lives here, not in the ``_agentstore_cli`` shim that also uses it: importing the
    shim replaces the process's SIGINT handler, which importing the CLI must never do (an
    application or test importing ``agentstore.cli`` would then die on Ctrl-C without its
    clean-up, and an import from a thread other than the main one would fail).
    """
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _to_cli_error(exc: BaseException) -> CliError:
    if caused_by_interrupt(exc):
        return CliInterrupted()
    if isinstance(exc, ConfigError | InvalidInput | StoreNotFound):
        return CliError(exc.message)
    if isinstance(exc, StoreError):
        return CliFailure(exc.message)
    if isinstance(exc, OSError):
        return CliFailure(_redact(str(exc)))
    return CliFailure(
        f"unexpected {type(exc).__name__}: {_redact(str(exc))} "
        "(run `agentstore --debug ...` to see the traceback)"
    )


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "CliFailure",
]
