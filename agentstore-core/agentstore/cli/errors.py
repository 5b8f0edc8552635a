"""The command line's errors: exit codes, one-line messages, and redaction of secrets.

Every message that leaves the CLI passes through here, so none carries a password.
"""

from __future__ import annotations

import re

import click

from agentstore.errors import ConfigError, InvalidInput, StoreError, StoreNotFound

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


# The user info runs to the *last* ``@`` of the URL: a password holding an unescaped ``@``
# or ``/`` is still masked whole (masking a host too is the safe way to be wrong).
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"<>]*@")
# libpq key/value (``password=x``, quoted values with escapes) and URL query parameters;
# an unquoted value runs to the next blank, so a password holding ``&`` is masked whole.
_KEY_VALUE_PASSWORD = re.compile(
    r"""(\w*(?:pass(?:word)?|passwd|pwd))\s*=\s*('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|\S*)""",
    re.IGNORECASE,
)


def _redact(text: str) -> str:
    """Mask the user info of any URL and any ``password=`` value in ``text``."""
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return _KEY_VALUE_PASSWORD.sub(r"\1=***", text)


def _to_cli_error(exc: BaseException) -> CliError:
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
