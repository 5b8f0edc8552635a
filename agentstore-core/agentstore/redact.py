"""Secrets masked out of text before it is shown: one redaction for every message.

The CLI passes every unexpected error through :func:`redact`, and a driver uses it for
anything that may echo a connection string (a repr, a log line).
"""

from __future__ import annotations

import re

# A URL's user info runs to the *last* ``@`` of the URL, so a password holding an unescaped
# ``@`` or ``/`` is still masked whole (masking a host too is the safe way to be wrong).
# The user name before the first ``:`` is kept: it is no secret and says who connected.
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)"
    r"(?:(?P<user>[^\s'\"<>:@/]*):[^\s'\"<>]*|[^\s'\"<>]*)@"
)
# libpq key/value (``password=x``, quoted values with escapes) and URL query parameters;
# an unquoted value runs to the next blank, so a password holding ``&`` is masked whole.
_KEY_VALUE_PASSWORD = re.compile(
    r"""(\w*(?:pass(?:word)?|passwd|pwd))\s*=\s*('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|\S*)""",
    re.IGNORECASE,
)


def _mask_url(match: re.Match[str]) -> str:
    user = match.group("user")
    if user is None:
        return f"{match.group('scheme')}***@"
    return f"{match.group('scheme')}{user}:***@"


def redact(text: str) -> str:
    """``text`` with the password of every URL in it, and every ``password=`` value (libpq
    key/value or a URL query parameter, any ``*pass*``/``pwd`` key), replaced by ``***``.
    A URL's user info that is not ``user:password`` is masked whole."""
    text = _URL_CREDENTIALS.sub(_mask_url, text)
    return _KEY_VALUE_PASSWORD.sub(r"\1=***", text)


__all__ = ["redact"]
