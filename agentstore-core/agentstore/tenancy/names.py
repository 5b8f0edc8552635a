"""Tenant names and how a tenant's keys are stored.

A tenant name is a lowercase DNS label: 1 to 63 characters of ``a-z``, ``0-9`` and
``-``, neither starting nor ending with ``-``. Nothing is folded or normalised: ``ACME``,
``acme`` with a zero-width space, a Cyrillic look-alike or a name holding ``:`` or
``/`` is refused, not mapped onto ``acme``, so two spellings never reach one tenant.

A key ``k`` of tenant ``t`` is stored as ``agentstore:t:<t>:<k>`` (:func:`tenant_key`).
Since ``t`` holds no ``:``, the first ``:`` after the prefix ends it, and
:func:`tenant_of` recovers ``(t, k)`` from any stored key: the mapping is one-to-one and
the keys of different tenants never meet, whatever ``k`` holds.
"""

from __future__ import annotations

import re
from typing import Final

from agentstore.checks import RESERVED_PREFIX
from agentstore.errors import InvalidInput

TENANT_PREFIX: Final = RESERVED_PREFIX + "t:"
"""Every tenant's stored keys start with this, then the tenant name and ``:``."""

MAX_TENANT_LENGTH: Final = 63

_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def check_tenant(value: object) -> str:
    """Return ``value`` if it is a tenant name (see the module docstring).

    Raises:
        InvalidInput: anything else; the message says what a tenant name may hold.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"a tenant name must be a str, not {type(value).__name__}")
    if _LABEL.fullmatch(value) is None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidInput(
            f"tenant name {shown!r} is not allowed: use 1 to {MAX_TENANT_LENGTH} characters "
            "of a-z, 0-9 and '-', not starting or ending with '-' (no upper case, no other "
            "characters: names are never folded)"
        )
    return value


def tenant_key(tenant: str, key: str) -> str:
    """The stored form of ``key`` in ``tenant``'s namespace."""
    return f"{TENANT_PREFIX}{tenant}:{key}"


def tenant_of(stored: str) -> tuple[str, str] | None:
    """``(tenant, key)`` when ``stored`` is a tenant's key, else None (a key of the
    store outside every tenant)."""
    if not stored.startswith(TENANT_PREFIX):
        return None
    tenant, sep, key = stored[len(TENANT_PREFIX) :].partition(":")
    if not sep or not key or _LABEL.fullmatch(tenant) is None:
        return None
    return tenant, key


__all__ = ["MAX_TENANT_LENGTH", "TENANT_PREFIX", "check_tenant", "tenant_key", "tenant_of"]
